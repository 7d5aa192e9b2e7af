"""Plain SQL of the query service. It reads; the one write is project settings (`update_project`)."""
