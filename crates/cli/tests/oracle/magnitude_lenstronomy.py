"""Total counts in ADU of sources of given AB magnitudes, by lenstronomy's
observation API (SingleBand with data_count_unit='ADU': counts per second
times the exposure). Usage: magnitude_lenstronomy.py CASES.json, each case
[magnitude, zero_point, exposure_s, gain]; prints a JSON list."""
import json
import sys

from lenstronomy.SimulationAPI.observation_api import SingleBand

out = []
for m, zp, t, g in json.load(open(sys.argv[1])):
    band = SingleBand(pixel_scale=0.04, exposure_time=t, magnitude_zero_point=zp, read_noise=3.0, ccd_gain=g,
                      sky_brightness=22.0, seeing=0.1, data_count_unit="ADU")
    out.append(band.magnitude2cps(m) * t)
print(json.dumps(out))
