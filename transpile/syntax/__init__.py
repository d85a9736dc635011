"""dockuni.syntax"""
