"""Face verification and video liveness timings on the real test data (prints the figures).

    .venv/bin/python bench/identity.py [--repeat N] [--skip-baseline]

- photo verification: decode + detect + encode the probe and compare it with a reference
  encoding, over every one-face photo in ../shared/testdata/faces (p50 / p95), as
  run_photo_verification does it; and the same at full size with upsampling (the naive way);
- video: identity.check_video on the 9 s clip, and on 10 s videos made from a still photo at
  640x480 and 1280x720 (a face in every frame: the most work per second);
- the baseline: every frame of the clip at full size (detect with upsampling, encode, landmarks).
Targets on a 2-core machine: photo p50 <= 0.3 s, a 10 s video <= 2 s.
"""
import argparse
import glob
import os
import statistics
import sys
import tempfile
import time

import cv2
import face_recognition
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
FACES = os.path.join(os.path.dirname(ROOT), "shared", "testdata", "faces")
CLIP = os.path.join(FACES, "short_hamilton_clip.mp4")


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def still_video(photo, target, seconds, size, fps=30):
    image = cv2.imread(photo)
    height, width = image.shape[:2]
    base = min(size[0] / width, size[1] / height)
    writer = cv2.VideoWriter(target, cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for index in range(seconds * fps):
        progress = index / (seconds * fps)
        scale = base * (1.0 + 0.3 * progress)
        matrix = np.float32([[scale, 0, 40 * progress + (size[0] - width * scale) / 2],
                             [0, scale, 20 * progress + (size[1] - height * scale) / 2]])
        writer.write(cv2.warpAffine(image, matrix, size))
    writer.release()
    return target


def bench_photos(identity, repeat):
    photos = sorted(p for p in glob.glob(os.path.join(FACES, "*")) if p.rsplit(".", 1)[-1] in ("jpg", "jpeg", "png"))
    with open(os.path.join(FACES, "obama.jpg"), "rb") as handle:
        reference = identity.encode_image(handle.read())
    fast, fast_cpu, naive = [], [], []
    for _ in range(repeat):
        for path in photos:
            with open(path, "rb") as handle:
                data = handle.read()
            started, cpu = time.perf_counter(), time.process_time()
            try:
                identity.face_distance(reference, identity.encode_image(data))
            except identity.DomainError:
                pass  # two-face photos are refused after detection: still a timed request
            fast.append(time.perf_counter() - started)
            fast_cpu.append(time.process_time() - cpu)
    for path in photos:  # the naive way, once: full size, upsampled detection
        started = time.perf_counter()
        image = face_recognition.load_image_file(path)
        locations = face_recognition.face_locations(image, number_of_times_to_upsample=1)
        face_recognition.face_encodings(image, locations)
        naive.append(time.perf_counter() - started)
    print(f"photos: {len(photos)} files x {repeat} runs")
    print(f"  photo verification  p50 {statistics.median(fast):.3f} s   p95 {percentile(fast, 0.95):.3f} s   "
          f"max {max(fast):.3f} s   (target p50 <= 0.3 s)")
    print(f"  same, CPU time      p50 {statistics.median(fast_cpu):.3f} s   p95 {percentile(fast_cpu, 0.95):.3f} s")
    print(f"  naive full size     p50 {statistics.median(naive):.3f} s   p95 {percentile(naive, 0.95):.3f} s")


def bench_videos(identity, liveness, repeat, baseline):
    with open(os.path.join(FACES, "lin-manuel-miranda.png"), "rb") as handle:
        lin = identity.encode_image(handle.read())
    with open(os.path.join(FACES, "obama.jpg"), "rb") as handle:
        obama = identity.encode_image(handle.read())
    folder = tempfile.mkdtemp(prefix="bench-identity-")
    cases = [("9 s clip vs lin-manuel-miranda.png", CLIP, lin)]
    for size in ((640, 480), (1280, 720)):
        target = os.path.join(folder, f"still-{size[0]}x{size[1]}.mp4")
        cases.append((f"10 s still photo {size[0]}x{size[1]}", still_video(os.path.join(FACES, "obama.jpg"),
                                                                            target, 10, size), obama))
    fast_clip = None
    for label, path, reference in cases:
        times, cpu_times, outcome = [], [], None
        for _ in range(repeat):
            started, cpu = time.perf_counter(), time.process_time()
            status, reasons, scores, figures = identity.check_video(path, reference)
            times.append(time.perf_counter() - started)
            cpu_times.append(time.process_time() - cpu)
            outcome = (status, reasons, scores, figures)
        status, reasons, scores, figures = outcome
        median = statistics.median(times)
        if path == CLIP:
            fast_clip = min(times), statistics.median(cpu_times)
        print(f"  {label:<36} wall {median:.2f} s (min {min(times):.2f}, max {max(times):.2f}), "
              f"CPU {statistics.median(cpu_times):.2f} s  -> {status} {reasons}  "
              f"frames decoded {figures['frames_decoded']}/{figures['frames_read']}, "
              f"encodings {len(figures['distances'])}, nonrigid {scores['nonrigid']}")
    if baseline:
        started, cpu = time.perf_counter(), time.process_time()
        figures = liveness.analyze_video(CLIP, lin, identity.liveness_settings(), every_frame_full_size=True)
        slow, slow_cpu = time.perf_counter() - started, time.process_time() - cpu
        status, reasons, scores = liveness.decide(figures, identity.liveness_settings())
        print(f"  baseline: every frame of the clip at full size: wall {slow:.2f} s, CPU {slow_cpu:.2f} s "
              f"-> {status} {reasons} (max faces {scores['max_faces']}, stranger frames {scores['strangers']})")
        print(f"  speed-up of the sampled check over the baseline: {slow / fast_clip[0]:.1f}x wall (best run), "
              f"{slow_cpu / fast_clip[1]:.1f}x CPU")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    from app import create_app
    from app.services import identity, liveness

    base = tempfile.mkdtemp(prefix="bench-identity-app-")
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite:///" + os.path.join(base, "x.db"),
                      "UPLOAD_DIR": os.path.join(base, "uploads")})
    print(f"cpu cores: {os.cpu_count()}; opencv threads {cv2.getNumThreads()}")
    with app.app_context():
        bench_photos(identity, args.repeat)
        print("videos (identity.check_video: decode, sample, detect, encode, landmarks, decide):")
        bench_videos(identity, liveness, args.repeat, not args.skip_baseline)


if __name__ == "__main__":
    main()
