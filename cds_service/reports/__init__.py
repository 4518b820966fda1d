"""Reports for the pathway owners, built from the store and shown with the render step's page templates.

Above both: the store does not import the render step (tests/test_layering.py), so what needs the two lives here.
"""
