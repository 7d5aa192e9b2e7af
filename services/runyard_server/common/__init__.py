"""Code shared by every service: settings, the database pool, migrations, errors, auth verification.

Nothing here imports FastAPI, gRPC or boto3.
"""
