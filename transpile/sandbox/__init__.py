"""dockuni.sandbox"""
