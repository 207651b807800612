import os
import ssl

bind = "0.0.0.0:8443"
certfile = os.environ["CERT"]
keyfile = os.environ["KEY"]
ca_certs = os.environ["CA"]
cert_reqs = ssl.CERT_REQUIRED
ciphers = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384"
