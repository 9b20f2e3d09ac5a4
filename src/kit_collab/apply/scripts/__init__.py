"""apply/scripts"""
