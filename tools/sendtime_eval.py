#!/usr/bin/env python3
"""sendtime-eval: a synthetic evaluation of `crieur sendtime`.

Builds a population with varied daily rhythms (its true availability per local hour, weekday or
weekend, for phone-like channels and e-mail), a history biased the way services send (most batch
messages at 09:00 on weekdays), engagement drawn from the same model the heuristic assumes
(attention fades after delivery), machine opens of e-mails, app sessions; then queries. Runs the
real tool and scores its answers, and two baselines, by the TRUE expected engagement before the
deadline: "send at the earliest allowed instant" and "the population's best hour" (the hour with the
most reads per message sent in the history, first allowed occurrence in the window). Checks the
hard rules. Prints the uplift overall and by amount of history.

  tools/sendtime_eval.py CRIEUR_BINARY [--citizens N] [--queries Q] [--seed S] [--keep DIR]
"""
import argparse, csv, datetime as dt, math, os, random, subprocess, sys, tempfile

STEP = 15  # minutes
TAU = {"phone": 3.0, "email": 8.0}
UTC = dt.timezone.utc


def group(channel):
    return "email" if channel == "email" else "phone"


def bin_of(t, offset):
    local = t + dt.timedelta(minutes=offset)
    return (24 if local.weekday() >= 5 else 0) + local.hour


def rhythm(rng):
    """A citizen's true availability per bin (48), for phone and e-mail."""
    kind = rng.choice(["morning", "evening", "lunch", "night", "flat"])
    peaks = {"morning": [7, 8], "evening": [19, 20, 21], "lunch": [12, 13, 18], "night": [22, 23, 0], "flat": []}[kind]
    phone, email = [], []
    for weekend in (0, 1):
        for h in range(24):
            awake = 0.02 if 1 <= h <= 6 else 0.15
            p = awake + sum(0.9 * math.exp(-((h - c) % 24 if (h - c) % 24 < 12 else (h - c) % 24 - 24) ** 2 / 2.0) for c in peaks)
            if weekend:
                p *= 1.2 if 10 <= h <= 22 else 0.8
            e = p * (1.3 if (not weekend and 9 <= h <= 17) else 0.7)
            phone.append(p * rng.uniform(0.6, 1.4))
            email.append(e * rng.uniform(0.6, 1.4) * 0.6)
    return {"phone": phone, "email": email}, kind


def p_engaged(avail, offset, sent, deadline, tau):
    """1 - exp(-∫ a(bin(t)) exp(-(t-s)/tau) dt), 15-minute steps, at most 72 h."""
    total, t = 0.0, sent
    while t < deadline and (t - sent).total_seconds() < 72 * 3600:
        age = (t - sent).total_seconds() / 3600
        total += avail[bin_of(t, offset)] * math.exp(-age / tau) * STEP / 60
        t += dt.timedelta(minutes=STEP)
    return 1 - math.exp(-total)


def quiet(t, offset, start, end):
    local = t + dt.timedelta(minutes=offset)
    m = local.hour * 60 + local.minute
    if start == end:
        return False
    return start <= m < end if start < end else (m >= start or m < end)


def first_allowed(t, offset, start, end):
    while quiet(t, offset, start, end):
        t += dt.timedelta(minutes=1)
    return t


def iso(t):
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(s):
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("crieur")
    ap.add_argument("--citizens", type=int, default=1500)
    ap.add_argument("--queries", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    folder = a.keep or tempfile.mkdtemp(prefix="sendtime-eval-")
    os.makedirs(folder, exist_ok=True)
    start = dt.datetime(2026, 6, 1, tzinfo=UTC)
    days = 90
    now = start + dt.timedelta(days=days)

    people = {}
    for i in range(a.citizens):
        avail, kind = rhythm(rng)
        offset = rng.choice([60, 120, 120, 120, -240, 330])
        known = rng.random() > 0.1
        activity = rng.choice([0, 0, 1, 2, 4, 8, 16])  # messages a month: some citizens have no history
        people[f"C{i}"] = dict(avail=avail, kind=kind, offset=offset, known=known, activity=activity,
                               app=rng.random() < 0.4, channels=rng.choice([["sms"], ["email"], ["sms", "email"], ["push", "sms"], ["whatsapp", "email"]]))
    with open(f"{folder}/citizens.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["citizen_id", "utc_offset_minutes", "policy_utc_offset_minutes", "channels", "quiet_start", "quiet_end", "app_user"])
        for cid, p in people.items():
            w.writerow([cid, p["offset"] if p["known"] else "", p["offset"], ";".join(p["channels"]), "21:00", "08:00", int(p["app"])])

    # History: batch sends at 09:00 local on weekdays (the bias), triggered ones at any waking hour.
    events, n_msgs = [], {}
    mid = 0
    for cid, p in people.items():
        n_msgs[cid] = 0
        for _ in range(int(p["activity"] * days / 30)):
            day = start + dt.timedelta(days=rng.randrange(days))
            batch = rng.random() < 0.7
            if batch:
                while (day + dt.timedelta(minutes=p["offset"])).weekday() >= 5:
                    day += dt.timedelta(days=1)
                local_h, local_m = 9, rng.randrange(0, 20)
            else:
                local_h, local_m = rng.randrange(8, 21), rng.randrange(60)
            sent = day.replace(hour=0, minute=0, second=0) + dt.timedelta(hours=local_h, minutes=local_m) - dt.timedelta(minutes=p["offset"])
            if sent >= now:
                continue
            channel = rng.choice(p["channels"])
            g = group(channel)
            mid += 1
            m = f"M{mid}"
            n_msgs[cid] += 1
            events.append((sent, cid, m, channel, "sent", "batch" if batch else "triggered"))
            delivered = sent + dt.timedelta(seconds=rng.randrange(2, 40))
            events.append((delivered, cid, m, channel, "delivered", ""))
            if g == "email" and rng.random() < 0.3:  # a machine open
                events.append((delivered + dt.timedelta(seconds=rng.randrange(1, 10)), cid, m, channel, "open", ""))
            # The true engagement: the first event of a Poisson process with the fading hazard.
            t = delivered
            while (t - delivered).total_seconds() < 72 * 3600 and t < now:
                age = (t - delivered).total_seconds() / 3600
                rate = p["avail"][g][bin_of(t, p["offset"])] * math.exp(-age / TAU[g])
                if rng.random() < 1 - math.exp(-rate * STEP / 60):
                    ev = "open" if g == "email" else ("read" if channel == "whatsapp" else "click")
                    events.append((t + dt.timedelta(minutes=rng.randrange(STEP)), cid, m, channel, ev, ""))
                    break
                t += dt.timedelta(minutes=STEP)
        if p["app"]:  # app sessions: when they pick up their phone, whatever we send
            for d in range(days):
                for h in range(24):
                    t = start + dt.timedelta(days=d, hours=h)
                    if rng.random() < p["avail"]["phone"][bin_of(t, p["offset"])] * 0.15:
                        events.append((t + dt.timedelta(minutes=rng.randrange(60)), cid, "", "app", "session", ""))
    events.sort(key=lambda e: e[0])
    with open(f"{folder}/history.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["ts", "citizen_id", "message_id", "channel", "event", "kind"])
        for e in events:
            w.writerow([iso(e[0])] + list(e[1:]))

    # The population's best hour, as a naive planner would read the history: reads per send, by local hour sent.
    sent_h, read_h = [0] * 24, [0] * 24
    sent_at = {}
    for e in events:
        if e[4] == "sent":
            sent_at[e[2]] = e
            h = (e[0] + dt.timedelta(minutes=people[e[1]]["offset"])).hour
            sent_h[h] += 1
        elif e[4] in ("read", "click") or (e[4] == "open"):
            s = sent_at.get(e[2])
            if s and (e[0] - s[0]).total_seconds() > 60:
                read_h[(s[0] + dt.timedelta(minutes=people[s[1]]["offset"])).hour] += 1
    best_hour = max(range(24), key=lambda h: read_h[h] / sent_h[h] if sent_h[h] >= 20 else -1)

    queries = []
    for q in range(a.queries):
        cid = rng.choice(list(people))
        p = people[cid]
        created = now + dt.timedelta(minutes=rng.randrange(0, 7 * 24 * 60))
        not_before = created + dt.timedelta(minutes=rng.choice([0, 0, 30, 240]))
        deadline = not_before + dt.timedelta(hours=rng.choice([6, 12, 24, 48, 72]))
        urgent = rng.random() < 0.05
        queries.append(dict(id=f"Q{q}", cid=cid, channel=rng.choice(p["channels"]), created=created, nb=not_before, dl=deadline, urgent=urgent))
    with open(f"{folder}/queries.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["query_id", "citizen_id", "channel", "created_at", "not_before", "deadline", "urgency", "quiet_start", "quiet_end", "policy_utc_offset_minutes"])
        for q in queries:
            w.writerow([q["id"], q["cid"], q["channel"], iso(q["created"]), iso(q["nb"]), iso(q["dl"]), "urgent" if q["urgent"] else "normal", "21:00", "08:00", people[q["cid"]]["offset"]])

    with open(f"{folder}/answers.csv", "w") as out:
        subprocess.run([a.crieur, "sendtime", "--citizens", f"{folder}/citizens.csv", "--history", f"{folder}/history.csv",
                        "--queries", f"{folder}/queries.csv"], stdout=out, check=True)
    answers = {r["query_id"]: parse(r["send_at"]) for r in csv.DictReader(open(f"{folder}/answers.csv"))}

    violations = impossible = 0
    score = {"heuristic": {}, "earliest": {}, "best hour": {}}
    for q in queries:
        p = people[q["cid"]]
        g = group(q["channel"])
        s = answers[q["id"]]
        off = p["offset"]
        window_quiet = first_allowed(q["nb"], off, 21 * 60, 8 * 60) > q["dl"]
        if not q["urgent"] and window_quiet:
            impossible += 1  # the whole window is quiet: no answer can keep both rules (the tool sends at not_before)
        elif s < q["nb"] or s > q["dl"] or (not q["urgent"] and quiet(s, off, 21 * 60, 8 * 60)) or (q["urgent"] and (s - q["nb"]).total_seconds() > 900):
            violations += 1
        if q["urgent"]:
            continue
        earliest = first_allowed(q["nb"], off, 21 * 60, 8 * 60)
        if earliest > q["dl"]:
            continue
        # The first time in the window at the population's best hour, outside quiet hours.
        t, best = earliest, None
        while t <= q["dl"]:
            local = t + dt.timedelta(minutes=off)
            if local.hour == best_hour and not quiet(t, off, 21 * 60, 8 * 60):
                best = t
                break
            t += dt.timedelta(minutes=STEP)
        best = best or earliest
        n = n_msgs[q["cid"]]
        bucket = "no history" if n == 0 else "1-5 messages" if n <= 5 else "6-20 messages" if n <= 20 else "over 20"
        for name, at in (("heuristic", s), ("earliest", earliest), ("best hour", best)):
            v = p_engaged(p["avail"][g], off, at, q["dl"], TAU[g])
            for key in ("all", bucket):
                score[name].setdefault(key, []).append(v)

    print(f"sendtime-eval: {a.citizens} citizens, {len(events)} history rows, {len(queries)} queries (files in {folder})")
    print(f"  hard rules broken: {violations} (and {impossible} windows entirely inside quiet hours, where no answer can keep both)")
    print(f"  population's best hour (naive, from the biased history): {best_hour:02d}:00 local")
    print(f"  {'':16} {'queries':>8} {'heuristic':>10} {'earliest':>10} {'best hour':>10} {'vs earliest':>12} {'vs best hour':>13}")
    for key in ["all", "no history", "1-5 messages", "6-20 messages", "over 20"]:
        if key not in score["heuristic"]:
            continue
        h, e, b = (sum(score[n][key]) / len(score[n][key]) for n in ("heuristic", "earliest", "best hour"))
        print(f"  {key:16} {len(score['heuristic'][key]):>8} {h:>10.3f} {e:>10.3f} {b:>10.3f} {100 * (h / e - 1):>+11.1f}% {100 * (h / b - 1):>+12.1f}%")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
