using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace SlmStudio.Core.Inference;

/// <summary>
/// Runs the generations of one artifact that overlap in time as shared batches ("continuous batching"): a request joins
/// a running batch between two decoder steps (after its prompt has run on its own) and leaves it when it ends, so one
/// decoder call serves every request of the batch. A small model's decode step on a CPU costs little more for a few
/// sequences than for one (reading the weights and the call's fixed cost dominate). Measured on Small, fp32 (what the
/// portal serves), 2 cores, <c>slm bench generate --preset small --concurrent 1,2,4,8</c>, new tokens/s of all requests
/// together: 627 / 1,091 / 1,357 / 1,919 served this way against 632 / 1,061 / 1,070 / 1,170 side by side, each on its
/// own. int4, whose matrix products batch less well, measured about even at 1, 2 and 8 and about 20% slower at 4.
/// <para>
/// Up to <see cref="Lanes"/> batches run at once, as many as the decoder's calls fit on the cores side by side (one per
/// core for models that run on one thread). A request starts a lane of its own while one is free, and otherwise the
/// least busy lane takes it in (at most <see cref="MaxBatch"/> sequences each). Lanes are threads that exist only while
/// they have work.
/// </para>
/// </summary>
internal sealed class GenerationBatcher
{
    private readonly OnnxArtifact _artifact;
    private readonly object _gate = new();
    private readonly Queue<Request> _waiting = new();
    // Per lane: the sequences in its batch, or -1 while the lane is not running. Guarded by _gate.
    private readonly int[] _loads;

    public GenerationBatcher(OnnxArtifact artifact, int lanes, int maxBatch)
    {
        _artifact = artifact;
        Lanes = Math.Max(1, lanes);
        MaxBatch = Math.Max(1, maxBatch);
        _loads = Enumerable.Repeat(-1, Lanes).ToArray();
    }

    public int Lanes { get; }
    public int MaxBatch { get; }

    /// <summary>A batcher for <paramref name="artifact"/>: a lane per group of cores one decoder call uses, batches of at most 8.</summary>
    public static GenerationBatcher For(OnnxArtifact artifact) =>
        new(artifact, Environment.ProcessorCount / artifact.Decoder.ThreadsPerCall, DefaultMaxBatch);

    /// <summary>Sequences a lane runs as one batch at most; the measured gain grew up to 8 on Small.</summary>
    public const int DefaultMaxBatch = 8;

    /// <summary>
    /// Streams the new tokens for <paramref name="prompt"/> (ids, fitted to the context here). Cancelling, or leaving
    /// the stream early, takes the request out of its batch at the next step; the others go on.
    /// </summary>
    public async IAsyncEnumerable<GeneratedToken> GenerateAsync(int[] prompt, GenerationSettings settings, [EnumeratorCancellation] CancellationToken ct = default)
    {
        var request = Submit(prompt, settings, ct);
        try
        {
            await foreach (var token in request.Tokens.Reader.ReadAllAsync(ct).ConfigureAwait(false)) yield return token;
        }
        finally
        {
            request.Abandon();
        }
    }

    /// <summary>
    /// The whole generation for <paramref name="prompt"/> and why it ended ("eos", "stop", "length" or "context"), run in
    /// the lanes as <see cref="GenerateAsync"/> runs it.
    /// </summary>
    public async Task<(IReadOnlyList<GeneratedToken> Tokens, string FinishReason)> CompleteAsync(int[] prompt, GenerationSettings settings, CancellationToken ct = default)
    {
        var request = Submit(prompt, settings, ct);
        try
        {
            var tokens = new List<GeneratedToken>();
            await foreach (var token in request.Tokens.Reader.ReadAllAsync(ct).ConfigureAwait(false)) tokens.Add(token);
            return (tokens, request.FinishReason ?? "length");
        }
        finally
        {
            request.Abandon();
        }
    }

    /// <summary>Queues a request for <paramref name="prompt"/>, fitted to the context, and starts a lane for it if one is free.</summary>
    private Request Submit(int[] prompt, GenerationSettings settings, CancellationToken ct)
    {
        var request = new Request(GenerationRow.FitToContext(prompt, _artifact.Config.MaxPositions), settings, ct);
        int lane;
        lock (_gate)
        {
            _waiting.Enqueue(request);
            lane = Array.IndexOf(_loads, -1);
            if (lane < 0) return request; // every lane runs: the least busy takes it in between two of its steps
            _loads[lane] = 0;
        }
        Task.Factory.StartNew(() => RunLane(lane), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        return request;
    }

    private void RunLane(int index)
    {
        // Admit and Step hand their own failures to the requests concerned, so the loop itself does not throw.
        using var lane = new Lane(_artifact);
        while (true)
        {
            Request? joining = null;
            lock (_gate)
            {
                _loads[index] = lane.Count;
                // The least busy lane takes the next request, so that batches stay even across the cores.
                if (_waiting.Count > 0 && lane.Count < MaxBatch && lane.Count <= _loads.Where(l => l >= 0).Min()) joining = _waiting.Dequeue();
                else if (lane.Count == 0 && _waiting.Count == 0)
                {
                    _loads[index] = -1;
                    return;
                }
            }
            if (joining is not null) lane.Admit(joining);
            if (lane.Count > 0) lane.Step();
        }
    }

    private sealed class Request(int[] prompt, GenerationSettings settings, CancellationToken ct)
    {
        private volatile bool _abandoned;

        public int[] Prompt { get; } = prompt;
        public GenerationSettings Settings { get; } = settings;
        public Channel<GeneratedToken> Tokens { get; } = Channel.CreateUnbounded<GeneratedToken>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

        /// <summary>Why the generation ended; set before the stream completes.</summary>
        public string? FinishReason { get; private set; }

        /// <summary>The generation has ended: say why, then close the stream.</summary>
        public void End(GenerationRow row)
        {
            FinishReason = row.Finish;
            Tokens.Writer.TryComplete();
        }

        /// <summary>Nobody reads the tokens any more: cancelled, or the stream was left.</summary>
        public bool Abandoned => _abandoned || ct.IsCancellationRequested;

        public void Abandon() => _abandoned = true;
    }

    /// <summary>One batch: its sequences, their shared KV cache (left-padded to one length) and attention masks.</summary>
    private sealed class Lane(OnnxArtifact artifact) : IDisposable
    {
        private readonly List<(Request Request, GenerationRow Row, List<long> Mask)> _rows = [];
        private readonly float[] _logits = new float[artifact.Config.VocabSize];
        private OnnxKvCache? _cache; // [rows, kv_heads, length, head_dim] per layer, rows in _rows' order

        public int Count => _rows.Count;

        /// <summary>Runs the request's prompt on its own, emits its first token, and adds it to the batch if it goes on.</summary>
        public void Admit(Request request)
        {
            if (request.Abandoned) { request.Tokens.Writer.TryComplete(); return; }
            try
            {
                var row = new GenerationRow(request.Prompt, request.Settings, artifact);
                if (row.Finish is not null) { request.End(row); return; }
                int length = request.Prompt.Length;
                using var empty = artifact.Decoder.EmptyCache(1);
                using var output = artifact.Decoder.Run(
                    request.Prompt.Select(id => (long)id).ToArray(), Enumerable.Repeat(1L, length).ToArray(),
                    Enumerable.Range(0, length).Select(p => (long)p).ToArray(), 1, length, empty);
                output.LogitsAt(0, length - 1).CopyTo(_logits);
                if (row.Choose(_logits) is { } token) request.Tokens.Writer.TryWrite(token);
                if (row.Finish is not null) { request.End(row); return; }
                using var alone = output.TakeCache();
                int width = Math.Max(_cache?.Length ?? 0, length);
                var sources = _rows.Select((_, i) => (_cache!, i)).Append((alone, 0)).ToList();
                var joined = OnnxKvCache.Gather(sources, width);
                foreach (var (_, _, mask) in _rows) mask.InsertRange(0, Enumerable.Repeat(0L, width - _cache!.Length));
                _rows.Add((request, row, [.. Enumerable.Repeat(0L, width - length), .. Enumerable.Repeat(1L, length)]));
                _cache?.Dispose();
                _cache = joined;
            }
            catch (Exception e)
            {
                request.Tokens.Writer.TryComplete(e);
            }
        }

        /// <summary>One decoder call for every sequence of the batch, a token for each, then lets the ended ones go.</summary>
        public void Step()
        {
            try
            {
                var cache = _cache!;
                int batch = _rows.Count, past = cache.Length;
                var ids = new long[batch];
                var positions = new long[batch];
                var mask = new long[batch * (past + 1)];
                for (int b = 0; b < batch; b++)
                {
                    var (_, row, rowMask) = _rows[b];
                    ids[b] = row.LastId;
                    positions[b] = row.NextPosition - 1;
                    rowMask.CopyTo(mask, b * (past + 1));
                    mask[b * (past + 1) + past] = 1;
                }
                using var output = artifact.Decoder.Run(ids, mask, positions, batch, 1, cache);
                cache.Dispose();
                _cache = output.TakeCache();
                for (int b = 0; b < batch; b++)
                {
                    var (request, row, rowMask) = _rows[b];
                    rowMask.Add(1);
                    if (request.Abandoned) continue;
                    output.LogitsAt(b, 0).CopyTo(_logits);
                    if (row.Choose(_logits) is { } token) request.Tokens.Writer.TryWrite(token);
                }
                LetEndedGo();
            }
            catch (Exception e)
            {
                // The decoder failed for the whole batch: every request in it hears why.
                foreach (var (request, _, _) in _rows) request.Tokens.Writer.TryComplete(e);
                _rows.Clear();
                _cache?.Dispose();
                _cache = null;
            }
        }

        /// <summary>Takes ended and abandoned sequences out, and the leading positions that are padding in every row left.</summary>
        private void LetEndedGo()
        {
            var ended = _rows.Where(r => r.Row.Finish is not null || r.Request.Abandoned).ToList();
            if (ended.Count == 0) return;
            foreach (var (request, row, _) in ended) request.End(row);
            var kept = _rows.Select((r, i) => (r, i)).Where(x => !ended.Contains(x.r)).ToList();
            if (kept.Count == 0)
            {
                _rows.Clear();
                _cache!.Dispose();
                _cache = null;
                return;
            }
            int padding = kept.Min(x => x.r.Mask.IndexOf(1L));
            var smaller = OnnxKvCache.Gather(kept.Select(x => (_cache!, x.i)).ToList(), _cache!.Length - padding);
            _cache.Dispose();
            _cache = smaller;
            _rows.Clear();
            foreach (var (r, _) in kept)
            {
                r.Mask.RemoveRange(0, padding);
                _rows.Add(r);
            }
        }

        public void Dispose()
        {
            foreach (var (request, _, _) in _rows) request.Tokens.Writer.TryComplete();
            _cache?.Dispose();
        }
    }
}
