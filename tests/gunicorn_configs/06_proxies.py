# Behind a load balancer speaking the PROXY protocol, and nginx setting X-Forwarded-*.
forwarded_allow_ips = "10.0.0.0/8,127.0.0.1"
secure_scheme_headers = {"X-FORWARDED-PROTO": "https", "X-FORWARDED-SSL": "on"}
proxy_protocol = True
proxy_allow_ips = "10.0.0.1,10.0.0.2"
root_path = "/api"
