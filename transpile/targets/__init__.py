"""dockuni.targets"""
