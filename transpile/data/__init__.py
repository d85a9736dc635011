"""dockuni.data"""
