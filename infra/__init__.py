"""The AWS stack: one small construct per concern, composed and granted in `stack.py`."""
