"""dockuni.rules"""
