"""Plain SQL of the auth service: it writes users, entities (of kind user), api_keys and sessions."""
