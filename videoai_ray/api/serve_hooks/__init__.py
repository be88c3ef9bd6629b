"""Put on ``PYTHONPATH`` of the Serve processes in HAProxy mode: holds their ``sitecustomize``."""
