"""dockuni.passes"""
