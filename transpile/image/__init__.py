"""dockuni.image"""
