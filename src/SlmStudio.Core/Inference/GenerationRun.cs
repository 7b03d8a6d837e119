using SlmStudio.Core.Tokenization;

namespace SlmStudio.Core.Inference;

/// <summary>
/// One generation over a batch of prompts: left-pads them into one batch, runs the prompt once (prefill), then one token
/// per step through the KV cache; samples per row with the row's own seeded random stream, so a prompt gives the same
/// tokens alone or in a batch. Not thread-safe (one run per request); the decoder it uses is.
/// </summary>
internal sealed class GenerationRun : IDisposable
{
    private readonly OnnxArtifact _artifact;
    private readonly GenerationSettings _settings;
    private readonly Row[] _rows;
    private readonly int _batch;
    private readonly int _maxStop;
    private readonly List<long> _mask = [];  // [batch, length] row-major, rebuilt per step from _maskRows
    private readonly List<long>[] _maskRows;
    private OnnxKvCache? _cache;
    private long[] _nextIds;
    private int _step;

    public bool Done => _rows.All(r => r.Finish is not null);

    public string FinishReason(int row) => _rows[row].Finish ?? "length";

    public GenerationRun(OnnxArtifact artifact, IReadOnlyList<int[]> prompts, GenerationSettings settings)
    {
        _artifact = artifact;
        _settings = settings;
        _batch = prompts.Count;
        _maxStop = settings.StopSequences?.Max(s => s.Length) ?? 0;
        int context = artifact.Config.MaxPositions;
        // Keep the most recent tokens of an over-long prompt, leaving room for at least one new token.
        var trimmed = prompts.Select(p => p.Length >= context ? p[^(context - 1)..] : p).ToArray();
        int width = trimmed.Max(p => p.Length);
        _rows = new Row[_batch];
        _maskRows = new List<long>[_batch];
        _nextIds = new long[_batch * width];
        var positions = new long[_batch * width];
        for (int b = 0; b < _batch; b++)
        {
            var p = trimmed[b];
            int pad = width - p.Length;
            _rows[b] = new Row(p, settings.Seed is { } s ? new Random(s) : new Random(), artifact.Tokenizer);
            _maskRows[b] = [.. Enumerable.Repeat(0L, pad), .. Enumerable.Repeat(1L, p.Length)];
            for (int t = 0; t < width; t++)
            {
                _nextIds[b * width + t] = t < pad ? (artifact.EndOfTextId ?? 0) : p[t - pad];
                positions[b * width + t] = t < pad ? 0 : t - pad;
            }
            _rows[b].NextPosition = p.Length;
            if (settings.MaxNewTokens == 0) _rows[b].Finish = "length";
        }
        _prefillPositions = positions;
        _width = width;
    }

    private long[]? _prefillPositions;
    private int _width;

    /// <summary>Runs the model once and picks one token for every unfinished row; returns the tokens to emit.</summary>
    public List<(int Row, GeneratedToken Token)> Step()
    {
        var emitted = new List<(int, GeneratedToken)>();
        if (Done) return emitted;
        int seqLen = _step == 0 ? _width : 1;
        long[] positions = _step == 0 ? _prefillPositions! : _rows.Select(r => (long)r.NextPosition - 1).ToArray();
        _mask.Clear();
        foreach (var m in _maskRows) _mask.AddRange(m);
        _cache ??= _artifact.Decoder.EmptyCache(_batch);
        using var output = _artifact.Decoder.Run(_nextIds, _mask.ToArray(), positions, _batch, seqLen, _cache);
        _cache.Dispose();
        _cache = output.TakeCache();
        _step++;

        var next = new long[_batch];
        var logits = new float[_artifact.Config.VocabSize];
        for (int b = 0; b < _batch; b++)
        {
            var row = _rows[b];
            _maskRows[b].Add(1);
            if (row.Finish is not null) { next[b] = _artifact.EndOfTextId ?? 0; continue; }
            output.LogitsAt(b, seqLen - 1).CopyTo(logits);
            var (id, probability) = Sampler.Choose(logits, row.Seen, _settings, row.Random);
            next[b] = id;
            row.NextPosition++;
            // A chat model's end-of-turn token ends its answer as end-of-text ends a text (and is never shown).
            if (id == _artifact.EndOfTextId || _settings.StopTokenIds?.Contains(id) == true)
            {
                row.Finish = "eos";
                var rest = row.Flush();
                if (rest.Length > 0) emitted.Add((b, new GeneratedToken(id, rest, probability)));
                continue;
            }
            var (text, stopped) = row.Add(id, _settings.StopSequences, _maxStop);
            bool lengthDone = row.Generated.Count >= _settings.MaxNewTokens;
            bool contextDone = row.NextPosition >= _artifact.Config.MaxPositions;
            if (stopped) row.Finish = "stop";
            else if (lengthDone || contextDone)
            {
                row.Finish = lengthDone ? "length" : "context";
                text += row.Flush();
            }
            if (!stopped || text.Length > 0) emitted.Add((b, new GeneratedToken(id, text, probability)));
        }
        _nextIds = next;
        return emitted;
    }

    public void Dispose() => _cache?.Dispose();

    private sealed class Row
    {
        public Row(int[] prompt, Random random, ITokenizer tokenizer)
        {
            Random = random;
            Seen = [.. prompt];
            _decoder = new TokenStreamDecoder(tokenizer);
            // The last prompt tokens, so that a decoder that drops a leading space at the start of a text does not
            // drop the first generated token's space.
            _decoder.StartAfter(prompt[^Math.Min(4, prompt.Length)..]);
        }

        public Random Random { get; }
        public List<int> Generated { get; } = [];
        public HashSet<int> Seen { get; }
        public int NextPosition { get; set; }
        public string? Finish { get; set; }

        // Decodes only the new ids (holding back an incomplete UTF-8 character), instead of the whole text every token.
        private readonly TokenStreamDecoder _decoder;
        // Decoded text not yet emitted because it may be the start of a stop sequence.
        private string _held = "";

        /// <summary>Adds the token; returns the text it adds, holding back an incomplete UTF-8 character and anything
        /// that may be the start of a stop sequence; true when a stop sequence is complete (its text and what follows
        /// is cut).</summary>
        public (string Text, bool Stopped) Add(int id, IReadOnlyList<string>? stops, int maxStop)
        {
            Generated.Add(id);
            Seen.Add(id);
            var text = _held + _decoder.Push(id);
            _held = "";
            if (stops is not { Count: > 0 }) return (text, false);
            // Emitted text never ends in the start of a stop sequence (that part is held), so a stop sequence can only
            // begin inside the held text or the new piece.
            int cut = -1;
            foreach (var s in stops)
            {
                var at = text.IndexOf(s, StringComparison.Ordinal);
                if (at >= 0 && (cut < 0 || at < cut)) cut = at;
            }
            if (cut >= 0) return (text[..cut], true);
            // Hold back the longest tail that could still grow into a stop sequence.
            for (int k = Math.Min(maxStop - 1, text.Length); k > 0; k--)
            {
                var tail = text[^k..];
                if (stops.Any(s => s.StartsWith(tail, StringComparison.Ordinal)))
                {
                    _held = tail;
                    return (text[..^k], false);
                }
            }
            return (text, false);
        }

        /// <summary>Everything not yet emitted (generation is ending).</summary>
        public string Flush()
        {
            var rest = _held + _decoder.Flush();
            _held = "";
            return rest;
        }
    }
}
