raw_paste_global_conf = ["db_url=sqlite:///app.db", "debug=false"]
workers = 2
timeout = 30
