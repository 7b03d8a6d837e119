namespace SlmStudio.Core.Tokenization;

/// <summary>
/// Turns token ids arriving one at a time (during generation) into the text pieces to show. It decodes a short window
/// of recent ids and emits only what the window adds, holding text back while it ends in an incomplete UTF-8 sequence
/// (a byte-level or byte-fallback token that carries part of a character), so a character is never split. Because the
/// window always starts at a token already shown, a decoder that strips a leading space (SentencePiece) strips it only
/// at the very start of the text. Not thread-safe: one instance per generation.
/// </summary>
public sealed class TokenStreamDecoder(ITokenizer tokenizer, bool skipSpecialTokens = true)
{
    // A character is at most 4 bytes, each at worst its own token; past that the replacement character is real.
    private const int MaxPendingIds = 8;

    private readonly List<int> _ids = [];
    private string _prefix = "";
    private int _prefixIndex;

    /// <summary>
    /// Continues after ids that are already on screen (the end of the prompt): the first generated ids are decoded in
    /// their context, so a decoder that strips a leading space at the start of a text keeps the first new token's
    /// space. Nothing of <paramref name="shownIds"/> is emitted.
    /// </summary>
    public void StartAfter(IReadOnlyList<int> shownIds)
    {
        _ids.Clear();
        _ids.AddRange(shownIds);
        _prefixIndex = _ids.Count;
        _prefix = tokenizer.Decode(_ids, skipSpecialTokens);
    }

    /// <summary>Adds one id; returns the new text to show (empty while a character is incomplete).</summary>
    public string Push(int id)
    {
        _ids.Add(id);
        var text = tokenizer.Decode(_ids, skipSpecialTokens);
        bool incomplete = text.EndsWith('\uFFFD') && _ids.Count - _prefixIndex < MaxPendingIds;
        if (text.Length <= _prefix.Length || incomplete) return "";
        // A decoder could in principle rewrite earlier text; show what differs from the shown prefix onwards.
        int common = text.StartsWith(_prefix, StringComparison.Ordinal) ? _prefix.Length : CommonPrefixLength(text, _prefix);
        var piece = text[common..];
        // Keep only the ids from the last emitted one onwards as context for the next step.
        _ids.RemoveRange(0, _prefixIndex);
        _prefixIndex = _ids.Count;
        _prefix = tokenizer.Decode(_ids, skipSpecialTokens);
        return piece;
    }

    /// <summary>Whatever is still held back (an incomplete character at the end of generation), as text.</summary>
    public string Flush()
    {
        var text = tokenizer.Decode(_ids, skipSpecialTokens);
        var rest = text.Length > _prefix.Length ? text[_prefix.Length..] : "";
        _ids.Clear();
        _prefix = "";
        _prefixIndex = 0;
        return rest;
    }

    private static int CommonPrefixLength(string a, string b)
    {
        int n = Math.Min(a.Length, b.Length), i = 0;
        while (i < n && a[i] == b[i]) i++;
        return i;
    }
}
