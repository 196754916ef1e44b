"""Long-running stress harnesses (crash loop); run as scripts, imported by their CI tests."""
