"""Online stores (SQLite, Redis) behind one interface, and the sync that fills them.

base.py: the OnlineStore interface and the URL -> store map; keys.py: typed key and value
encodings; sqlite.py / redis.py: the stores; latest_sql.py: the latest-value SQL; sync.py:
``sync_online``. Reads live in :mod:`featurewarehouse.serving.client`.
"""
