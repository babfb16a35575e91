#!/usr/bin/env python3
"""Says hello, and who it runs as."""
import getpass
import os

print(f"hello from kiln, {getpass.getuser()} (uid {os.getuid()})")
