"""Adapters for the three ports: local (SQLite + files) and AWS (DynamoDB + SQS + S3)."""
