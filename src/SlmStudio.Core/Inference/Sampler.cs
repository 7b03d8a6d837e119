namespace SlmStudio.Core.Inference;

/// <summary>Chooses the next token from one row of logits: repetition penalty, then greedy or temperature / top-k / top-p sampling.</summary>
public static class Sampler
{
    /// <summary>Returns the chosen id and the model's own probability of it (softmax of the unmodified logits).
    /// <paramref name="logits"/> is modified in place.</summary>
    public static (int Id, float Probability) Choose(float[] logits, IReadOnlySet<int> seen, GenerationSettings settings, Random random)
    {
        // The model's own distribution, before any penalty or filter, for the reported probability.
        float max = float.NegativeInfinity;
        foreach (var l in logits) if (l > max) max = l;
        double sum = 0;
        foreach (var l in logits) sum += Math.Exp(l - max);
        double logZ = max + Math.Log(sum);
        var raw = logits.ToArray();

        if (settings.RepetitionPenalty != 1.0)
        {
            var penalty = (float)settings.RepetitionPenalty;
            foreach (var id in seen)
                if ((uint)id < (uint)logits.Length) logits[id] = logits[id] > 0 ? logits[id] / penalty : logits[id] * penalty;
        }

        int chosen;
        if (settings.Temperature <= 0) chosen = ArgMax(logits);
        else chosen = SampleFiltered(logits, settings, random);
        return (chosen, (float)Math.Exp(raw[chosen] - logZ));
    }

    public static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }

    private static int SampleFiltered(float[] logits, GenerationSettings settings, Random random)
    {
        int vocab = logits.Length;
        int k = settings.TopK > 0 && settings.TopK < vocab ? settings.TopK : vocab;
        int[] candidates;
        if (k < vocab)
        {
            // Top-k by a bounded min-heap: O(V log k) instead of sorting the whole vocabulary every token.
            var heap = new PriorityQueue<int, float>(k + 1);
            for (int i = 0; i < vocab; i++)
            {
                if (heap.Count < k) heap.Enqueue(i, logits[i]);
                else if (heap.TryPeek(out _, out var smallest) && logits[i] > smallest) heap.EnqueueDequeue(i, logits[i]);
            }
            candidates = new int[heap.Count];
            for (int j = candidates.Length - 1; j >= 0; j--) candidates[j] = heap.Dequeue();
        }
        else
        {
            candidates = Enumerable.Range(0, vocab).ToArray();
            var keys = logits.Select(l => -l).ToArray();
            Array.Sort(keys, candidates);
        }

        // Softmax at the temperature over the candidates (sorted most likely first).
        double inv = 1.0 / settings.Temperature;
        double top = logits[candidates[0]] * inv;
        var probs = new double[candidates.Length];
        double total = 0;
        for (int j = 0; j < candidates.Length; j++) total += probs[j] = Math.Exp(logits[candidates[j]] * inv - top);

        // Top-p: the smallest head of the sorted list whose probability reaches p (always at least one token).
        int keep = candidates.Length;
        if (settings.TopP < 1)
        {
            double cumulative = 0;
            for (int j = 0; j < candidates.Length; j++)
            {
                cumulative += probs[j] / total;
                if (cumulative >= settings.TopP) { keep = j + 1; break; }
            }
        }
        double kept = 0;
        for (int j = 0; j < keep; j++) kept += probs[j];
        double r = random.NextDouble() * kept;
        for (int j = 0; j < keep; j++)
        {
            r -= probs[j];
            if (r < 0) return candidates[j];
        }
        return candidates[keep - 1];
    }
}
