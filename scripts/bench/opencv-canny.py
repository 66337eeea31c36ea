"""OpenCV anchor for the edge-mask benchmark (driven by scripts/bench/opencv.ts).

A long-lived worker: one JSON command per line on stdin, one JSON answer per
line on stdout, so the benchmark can alternate between this and edgeMask
round by round and contention on a shared machine hits both alike, without
paying Python's and cv2's start-up in every round.

  {"op": "load", "id": "a", "path": "/tmp/x.raw", "width": W, "height": H}
  {"op": "run", "id": "a", "sigma": 1.4, "ksize": 11, "low": L, "high": H,
   "iterations": N, "mask": "/tmp/out.raw" (optional)}
      -> {"samples": [ms, ...]}   GaussianBlur + Canny, timed together
"""
import json
import sys
import time

try:
    import cv2
    import numpy as np
except ImportError as error:  # Reported by the caller as "anchor missing".
    print(json.dumps({"error": f"cannot import cv2: {error}"}), flush=True)
    sys.exit(3)

# The anchor is OpenCV on one core: the goal compares single-threaded work.
cv2.setNumThreads(1)
cv2.ocl.setUseOpenCL(False)

images = {}
print(json.dumps({"ready": True, "version": cv2.__version__}), flush=True)


def canny(image, command):
    sigma = command["sigma"]
    ksize = command["ksize"]
    # Replicated borders, as edgeMask clamps; OpenCV's default reflects.
    smooth = cv2.GaussianBlur(image, (ksize, ksize), sigma, sigmaY=sigma, borderType=cv2.BORDER_REPLICATE) if sigma > 0 else image
    return cv2.Canny(smooth, command["low"], command["high"], apertureSize=3, L2gradient=True)


for line in sys.stdin:
    command = json.loads(line)
    if command["op"] == "load":
        with open(command["path"], "rb") as handle:
            data = np.frombuffer(handle.read(), dtype=np.uint8)
        images[command["id"]] = data.reshape(command["height"], command["width"]).copy()
        print(json.dumps({"ok": True}), flush=True)
    elif command["op"] == "run":
        image = images[command["id"]]
        samples = []
        mask = None
        for _ in range(command["iterations"]):
            start = time.perf_counter()
            mask = canny(image, command)
            samples.append((time.perf_counter() - start) * 1000)
        if command.get("mask") and mask is not None:
            with open(command["mask"], "wb") as handle:
                handle.write(mask.tobytes())
        print(json.dumps({"samples": samples}), flush=True)
    else:
        print(json.dumps({"error": f"unknown op {command['op']}"}), flush=True)
