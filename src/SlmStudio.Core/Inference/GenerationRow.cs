using SlmStudio.Core.Tokenization;

namespace SlmStudio.Core.Inference;

/// <summary>
/// One prompt's generation, whatever batch it runs in: its own seeded random stream, the tokens it has seen (for the
/// repetition penalty), the text decoded so far, and why it ended. Given the logits of its last position, it picks the
/// next token and says what text to emit, so a prompt gives the same tokens alone, in a fixed batch
/// (<see cref="GenerationRun"/>) or joining and leaving a running one (<see cref="GenerationBatcher"/>).
/// </summary>
internal sealed class GenerationRow
{
    private readonly GenerationSettings _settings;
    private readonly int? _endOfTextId;
    private readonly int _maxPositions;
    private readonly int _maxStop;
    private readonly Random _random;
    private readonly HashSet<int> _seen;
    private int _generated;
    // Decodes only the new ids (holding back an incomplete UTF-8 character), instead of the whole text every token.
    private readonly TokenStreamDecoder _decoder;
    // Decoded text not yet emitted because it may be the start of a stop sequence.
    private string _held = "";

    /// <param name="prompt">The prompt's ids, already fitted to the context (<see cref="FitToContext"/>).</param>
    public GenerationRow(int[] prompt, GenerationSettings settings, OnnxArtifact artifact)
    {
        _settings = settings;
        _endOfTextId = artifact.EndOfTextId;
        _maxPositions = artifact.Config.MaxPositions;
        _maxStop = settings.StopSequences?.Max(s => s.Length) ?? 0;
        _random = settings.Seed is { } seed ? new Random(seed) : new Random();
        _seen = [.. prompt];
        _decoder = new TokenStreamDecoder(artifact.Tokenizer);
        // The last prompt tokens, so that a decoder that drops a leading space at the start of a text does not
        // drop the first generated token's space.
        _decoder.StartAfter(prompt[^Math.Min(4, prompt.Length)..]);
        NextPosition = prompt.Length;
        LastId = _endOfTextId ?? 0;
        if (settings.MaxNewTokens == 0) Finish = "length";
    }

    /// <summary>The most recent tokens of an over-long prompt, leaving room for at least one new token.</summary>
    public static int[] FitToContext(int[] prompt, int context) => prompt.Length >= context ? prompt[^(context - 1)..] : prompt;

    /// <summary>The position the next chosen token will take.</summary>
    public int NextPosition { get; private set; }

    /// <summary>The token to feed the model next: the last one chosen (end-of-text before the first).</summary>
    public long LastId { get; private set; }

    public int GeneratedCount => _generated;

    /// <summary>"eos", "stop", "length" or "context" once the generation has ended; null while it runs.</summary>
    public string? Finish { get; private set; }

    /// <summary>
    /// Picks the next token from the logits of the row's last position and returns what to emit: null when nothing is
    /// (the text is held back, or the end-of-text token ended it with nothing left to say).
    /// </summary>
    public GeneratedToken? Choose(float[] logits)
    {
        var (id, probability) = Sampler.Choose(logits, _seen, _settings, _random);
        LastId = id;
        NextPosition++;
        // A chat model's end-of-turn token ends its answer as end-of-text ends a text (and is never shown).
        if (id == _endOfTextId || _settings.StopTokenIds?.Contains(id) == true)
        {
            Finish = "eos";
            var rest = Flush();
            return rest.Length > 0 ? new GeneratedToken(id, rest, probability) : null;
        }
        var (text, stopped) = Add(id);
        bool lengthDone = _generated >= _settings.MaxNewTokens;
        bool contextDone = NextPosition >= _maxPositions;
        if (stopped) Finish = "stop";
        else if (lengthDone || contextDone)
        {
            Finish = lengthDone ? "length" : "context";
            text += Flush();
        }
        return !stopped || text.Length > 0 ? new GeneratedToken(id, text, probability) : null;
    }

    /// <summary>Adds the token; returns the text it adds, holding back an incomplete UTF-8 character and anything
    /// that may be the start of a stop sequence; true when a stop sequence is complete (its text and what follows
    /// is cut).</summary>
    private (string Text, bool Stopped) Add(int id)
    {
        _generated++;
        _seen.Add(id);
        var text = _held + _decoder.Push(id);
        _held = "";
        var stops = _settings.StopSequences;
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
        for (int k = Math.Min(_maxStop - 1, text.Length); k > 0; k--)
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
    private string Flush()
    {
        var rest = _held + _decoder.Flush();
        _held = "";
        return rest;
    }
}
