"""Trackers on simulated detections of chapter 05's clips (BENCHMARKS.md, chapter 05 tracking): no TensorFlow, the same on every CPU."""
import numpy as np, time
from homl_cv import data, tracking, boxes
t0=time.time()
clips = [data.make_moving_shapes(36, num_objects=3, image_size=64, seed=k) for k in range(10)]
def simulated(clip, seed, sigma=1.0, hide=0.3, drop=0.1):
    rng = np.random.default_rng(seed); out = []
    for b in clip.boxes:
        iou = boxes.iou(b, b); np.fill_diagonal(iou, 0)
        keep = (rng.random(len(b)) >= drop)
        # the object drawn earlier (lower index) is hidden when it overlaps a later one
        for k in range(len(b)):
            if (iou[k, k+1:] > hide).any(): keep[k] = False
        out.append((b + rng.normal(0, sigma, b.shape)).astype(np.float32)[keep])
    return out
for sigma, hide, drop in [(1.0,0.3,0.1),(1.5,0.3,0.1),(1.0,0.2,0.1),(1.0,0.3,0.2)]:
    dets = [simulated(c, k, sigma, hide, drop) for k, c in enumerate(clips)]
    res = {}
    for name,(m,mo) in {"sort":("hungarian","constant_velocity"),"greedy":("greedy","none"),"hung_last":("hungarian","none"),"greedy_vel":("greedy","constant_velocity")}.items():
        tr=[tracking.track_detections(d, method=m, motion=mo) for d in dets]
        s=tracking.pooled(tracking.evaluate_tracking(c,t) for c,t in zip(clips,tr))
        res[name]=(s.misses,s.false_positives,s.id_switches,round(s.mota,3))
    print(sigma,hide,drop,res)
print(time.time()-t0)
