"""The international learning record: certificates, the school's report, the portfolio.

A part of the `live` app because what it reads most is sessions (attendance, peer
sessions, consults: counts and specialties only); it reads courses through their
selectors, as the rest of `sessions/` does. Nothing below it imports it.
"""
