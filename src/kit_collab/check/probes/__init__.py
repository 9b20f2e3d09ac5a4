"""check/probes"""
