"""The change graph behind lead time: repositories, commits and their parents, pull requests,
and which of them each production deployment shipped (linking.py); its admin and list API."""
