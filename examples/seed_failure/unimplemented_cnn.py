"""The seed's VulBERTa-CNN background, as it was: it never trained."""

import sys
import time

print("CNN training not yet implemented", flush=True)
time.sleep(1.0)
sys.exit(1)
