# Compatibility switches for old clients behind a lenient proxy.
permit_obsolete_folding = True
strip_header_spaces = True
casefold_http_method = True
permit_unconventional_http_method = True
permit_unconventional_http_version = True
header_map = "refuse"
forwarder_headers = "SCRIPT_NAME,PATH_INFO,REMOTE_USER"
http_parser = "fast"
