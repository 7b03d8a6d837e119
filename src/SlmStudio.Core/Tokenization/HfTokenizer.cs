using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SlmStudio.Core.Tokenization;

/// <summary>A token that the tokenizer splits out of the text before BPE (special tokens such as &lt;s&gt;, and other added tokens).</summary>
public sealed record AddedToken(int Id, string Content, bool Special, bool Normalized, bool LStrip, bool RStrip, bool SingleWord);

/// <summary>
/// A Hugging Face tokenizer.json pipeline (added tokens, normalizer, pre-tokenizer, BPE model, post-processor, decoder)
/// that produces the same ids and text as the Hugging Face tokenizers library for the components it supports.
/// Built by <see cref="TokenizerFile.Load"/> and by <see cref="BpeTrainer"/>. Thread-safe.
/// </summary>
public sealed class HfTokenizer : ITokenizer
{
    private readonly JsonObject _json;
    private readonly Dictionary<string, int> _vocab;
    private readonly string?[] _idToToken;
    private readonly HashSet<int> _specialIds;
    private readonly AddedTokenMatcher _rawAdded;
    private readonly AddedTokenMatcher _normalizedAdded;
    private readonly AddedTokenMatcher _rawAddedNonSpecial;
    private readonly Normalizer? _normalizer;
    private readonly PreTokenizer? _preTokenizer;
    private readonly BpeModel _model;
    private readonly PostProcessor? _postProcessor;
    private readonly Decoder? _decoder;

    internal HfTokenizer(JsonObject json, Dictionary<string, int> vocab, IReadOnlyList<AddedToken> addedTokens, Normalizer? normalizer,
        PreTokenizer? preTokenizer, BpeModel model, PostProcessor? postProcessor, Decoder? decoder, int? bosId, int? eosId, int? padId)
    {
        _json = json;
        _vocab = vocab;
        AddedTokens = addedTokens;
        foreach (var t in addedTokens) _vocab.TryAdd(t.Content, t.Id);
        VocabSize = _vocab.Count == 0 ? 0 : _vocab.Values.Max() + 1;
        _idToToken = new string?[VocabSize];
        foreach (var (token, id) in _vocab) _idToToken[id] ??= token;
        foreach (var t in addedTokens) _idToToken[t.Id] = t.Content;
        _specialIds = [.. addedTokens.Where(t => t.Special).Select(t => t.Id)];
        _rawAdded = new AddedTokenMatcher(addedTokens.Where(t => !t.Normalized || normalizer is null));
        _rawAddedNonSpecial = new AddedTokenMatcher(addedTokens.Where(t => !t.Special && (!t.Normalized || normalizer is null)));
        _normalizedAdded = new AddedTokenMatcher(normalizer is null ? [] : addedTokens.Where(t => t.Normalized));
        _normalizer = normalizer;
        _preTokenizer = preTokenizer;
        _model = model;
        _postProcessor = postProcessor;
        _decoder = decoder;
        BosId = bosId;
        EosId = eosId;
        PadId = padId;
    }

    public int VocabSize { get; }
    public int? BosId { get; }
    public int? EosId { get; }
    public int? PadId { get; }
    public IReadOnlyList<AddedToken> AddedTokens { get; }

    /// <summary>The number of merges of the BPE model.</summary>
    public int MergeCount => _model.MergeCount;

    public string? IdToToken(int id) => id >= 0 && id < _idToToken.Length ? _idToToken[id] : null;

    public int? TokenToId(string token) => _vocab.TryGetValue(token, out var id) ? id : null;

    public bool IsSpecial(int id) => _specialIds.Contains(id);

    public int[] Encode(string text, bool addSpecialTokens = false) => Encode(text, addSpecialTokens, splitSpecialTokens: true);

    /// <summary>
    /// Encodes <paramref name="text"/>. With <paramref name="splitSpecialTokens"/> = false, text that spells a special
    /// token (such as "&lt;s&gt;") is encoded as ordinary text — Hugging Face's <c>split_special_tokens=True</c> —
    /// which is what training data needs: a document can never smuggle in a control token.
    /// </summary>
    public int[] Encode(string text, bool addSpecialTokens, bool splitSpecialTokens)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        var pieces = new List<Piece>();
        var raw = splitSpecialTokens ? _rawAdded : _rawAddedNonSpecial;
        raw.Split(text, (segment, start, tokenId) =>
        {
            if (tokenId >= 0) { ids.Add(tokenId); return; }
            var normalized = _normalizer?.Normalize(segment) ?? segment;
            _normalizedAdded.Split(normalized, (sub, subStart, subId) =>
            {
                if (subId >= 0) { ids.Add(subId); return; }
                if (_preTokenizer is ByteLevelPreTokenizer { UseRegex: true, AddPrefixSpace: false })
                {
                    // The common case of byte-level tokenizers, without intermediate strings.
                    foreach (var (s, l) in Gpt2PreTokenizer.Ranges(sub)) ids.AddRange(_model.EncodeByteLevel(sub.AsSpan(s, l)));
                    return;
                }
                pieces.Clear();
                var piece = new Piece(sub, start == 0 && subStart == 0);
                if (_preTokenizer is null) pieces.Add(piece);
                else _preTokenizer.Split(piece, pieces);
                foreach (var p in pieces) ids.AddRange(_model.Encode(p.Text));
            });
        });
        var result = ids.ToArray();
        return addSpecialTokens && _postProcessor is not null ? _postProcessor.ProcessSingle(result) : result;
    }

    public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = true)
    {
        var tokens = new List<string>(ids.Count);
        foreach (var id in ids)
        {
            // Hugging Face skips ids it does not know (a model's output layer may be padded beyond the vocabulary).
            if (IdToToken(id) is not { } token) continue;
            if (skipSpecialTokens && _specialIds.Contains(id)) continue;
            tokens.Add(token);
        }
        if (_decoder is null) return string.Join(' ', tokens);
        if (_decoder is ByteLevelDecoder) return DecodeByteLevel(ids, skipSpecialTokens);
        return string.Concat(_decoder.DecodeChain(tokens));
    }

    private byte[]?[]? _idBytes;

    /// <summary>The ByteLevel decoder over precomputed bytes per id: the same result as the decoder chain, faster.</summary>
    private string DecodeByteLevel(IReadOnlyList<int> ids, bool skipSpecialTokens)
    {
        var table = _idBytes ??= BuildIdBytes();
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(ids.Count * 4 + 16);
        foreach (var id in ids)
        {
            if (id < 0 || id >= table.Length || table[id] is not { } bytes) continue;
            if (skipSpecialTokens && _specialIds.Contains(id)) continue;
            System.Buffers.BuffersExtensions.Write(buffer, bytes);
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private byte[]?[] BuildIdBytes()
    {
        var table = new byte[]?[_idToToken.Length];
        for (int id = 0; id < table.Length; id++)
            if (_idToToken[id] is { } token) table[id] = ByteLevelDecoder.TokenBytes(token);
        return table;
    }

    private static readonly JsonSerializerOptions WriteOptions = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The tokenizer.json text: byte-for-byte the same for the same tokenizer.</summary>
    public string ToJson() => _json.ToJsonString(WriteOptions) + "\n";

    public void Save(string tokenizerJsonPath) => AtomicFile.WriteAllText(tokenizerJsonPath, ToJson());

    /// <summary>
    /// Writes a transformers tokenizer_config.json that names the special tokens, so that
    /// <c>AutoTokenizer.from_pretrained</c> knows the beginning/end/padding tokens of this tokenizer.
    /// </summary>
    public void SaveTokenizerConfig(string tokenizerConfigPath, int modelMaxLength)
    {
        var config = new JsonObject
        {
            ["tokenizer_class"] = "PreTrainedTokenizerFast",
            ["model_max_length"] = modelMaxLength,
            ["clean_up_tokenization_spaces"] = false,
        };
        if (BosId is { } b) config["bos_token"] = IdToToken(b);
        if (EosId is { } e) config["eos_token"] = IdToToken(e);
        if (PadId is { } p) config["pad_token"] = IdToToken(p);
        config["add_bos_token"] = BosId is { } bos && Encode("", addSpecialTokens: true).Contains(bos);
        AtomicFile.WriteAllText(tokenizerConfigPath, config.ToJsonString(WriteOptions) + "\n");
    }
}

/// <summary>Finds added tokens in text the way Hugging Face does: leftmost match first, the longest at one position.</summary>
internal sealed class AddedTokenMatcher
{
    private readonly Dictionary<char, AddedToken[]> _byFirstChar;
    private readonly System.Buffers.SearchValues<char> _firstChars;

    public AddedTokenMatcher(IEnumerable<AddedToken> tokens)
    {
        _byFirstChar = tokens.Where(t => t.Content.Length > 0)
            .GroupBy(t => t.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ThenBy(t => t.Id).ToArray());
        _firstChars = System.Buffers.SearchValues.Create([.. _byFirstChar.Keys.Order()]);
    }

    /// <summary>Calls <paramref name="emit"/>(text, start, -1) for each plain segment and (content, start, id) for each token.</summary>
    public void Split(string text, Action<string, int, int> emit)
    {
        if (_byFirstChar.Count == 0) { if (text.Length > 0) emit(text, 0, -1); return; }
        int segmentStart = 0;
        for (int i = 0; i < text.Length; i++)
        {
            int skip = text.AsSpan(i).IndexOfAny(_firstChars);
            if (skip < 0) break;
            i += skip;
            var candidates = _byFirstChar[text[i]];
            foreach (var t in candidates)
            {
                if (i + t.Content.Length > text.Length || string.CompareOrdinal(text, i, t.Content, 0, t.Content.Length) != 0) continue;
                int end = i + t.Content.Length;
                if (t.SingleWord && ((i > 0 && IsWordChar(text[i - 1])) || (end < text.Length && IsWordChar(text[end])))) continue;
                int left = i, right = end;
                if (t.LStrip) while (left > segmentStart && char.IsWhiteSpace(text[left - 1])) left--;
                if (t.RStrip) while (right < text.Length && char.IsWhiteSpace(text[right])) right++;
                if (left > segmentStart) emit(text[segmentStart..left], segmentStart, -1);
                emit(t.Content, left, t.Id);
                segmentStart = right;
                i = right - 1;
                break;
            }
        }
        if (segmentStart < text.Length) emit(text[segmentStart..], segmentStart, -1);
    }

    private static bool IsWordChar(char c) => char.IsLetterOrDigit(c) || c == '_';
}
