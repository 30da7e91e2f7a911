"""Lists employees through a client generated from the served OpenAPI document.

Usage: list_employees.py BASE_URL API_KEY EXPECTED_NUMBER
"""

import sys

from mtime_client import AuthenticatedClient
from mtime_client.api.organization import list_employees

base_url, key, expected = sys.argv[1:4]
client = AuthenticatedClient(base_url=base_url, token=key, raise_on_unexpected_status=True)
page = list_employees.sync(client=client, limit=10)
numbers = [employee.number for employee in page.items]
print(f"typed client listed employees: {numbers}")
if expected not in numbers:
    sys.exit(f"expected employee {expected} in {numbers}")
