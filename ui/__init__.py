"""Streamlit helpers shared by the pages. Only app.py, pages/ and ui/ import streamlit."""
