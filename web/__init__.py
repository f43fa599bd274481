"""The small web app behind the links in our mails: sign-up, confirmation, unsubscribe, consent.

It is the top layer (web → workers → content → campaigns): it reads the request, the clock and
the client's address at the edge and calls the subscriber domain in ``workers/``.
"""
