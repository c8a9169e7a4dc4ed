"""Tests of the dashboard's pages with streamlit.testing.v1.AppTest."""
