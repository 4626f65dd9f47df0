"""Every format a run report is rendered in: terminal tables, JSON, Markdown, HTML and JUnit XML."""
