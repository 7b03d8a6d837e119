using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace SlmStudio.Core.Tokenization;

// The stages of a Hugging Face tokenizer.json pipeline that SLM Studio implements. Each reads its own JSON object and
// refuses, with the name of what is missing, anything it does not implement exactly.

internal abstract class Normalizer
{
    public abstract string Normalize(string text);

    public static Normalizer? Parse(JsonNode? node)
    {
        if (node is null) return null;
        var type = TokenizerJson.Type(node, "normalizer");
        return type switch
        {
            "Sequence" => new SequenceNormalizer([.. TokenizerJson.Array(node, "normalizers").Select(n => Parse(n)!)]),
            "Prepend" => new PrependNormalizer(TokenizerJson.String(node, "prepend")),
            "Replace" => new ReplaceNormalizer(Pattern.Parse(node["pattern"], "Replace normalizer"), TokenizerJson.String(node, "content")),
            "NFC" => new UnicodeNormalizer(NormalizationForm.FormC),
            "NFD" => new UnicodeNormalizer(NormalizationForm.FormD),
            "NFKC" => new UnicodeNormalizer(NormalizationForm.FormKC),
            "NFKD" => new UnicodeNormalizer(NormalizationForm.FormKD),
            "Lowercase" => new LowercaseNormalizer(),
            "Strip" => new StripNormalizer(TokenizerJson.Bool(node, "strip_left", false), TokenizerJson.Bool(node, "strip_right", false)),
            _ => throw TokenizerJson.Unsupported($"normalizer '{type}'"),
        };
    }
}

internal sealed class SequenceNormalizer(Normalizer[] steps) : Normalizer
{
    public override string Normalize(string text)
    {
        foreach (var s in steps) text = s.Normalize(text);
        return text;
    }
}

internal sealed class PrependNormalizer(string prefix) : Normalizer
{
    public override string Normalize(string text) => text.Length == 0 ? text : prefix + text;
}

internal sealed class ReplaceNormalizer(Pattern pattern, string content) : Normalizer
{
    public override string Normalize(string text) => pattern.Replace(text, content);
}

internal sealed class UnicodeNormalizer(NormalizationForm form) : Normalizer
{
    public override string Normalize(string text) => text.IsNormalized(form) ? text : text.Normalize(form);
}

internal sealed class LowercaseNormalizer : Normalizer
{
    public override string Normalize(string text) => text.ToLowerInvariant();
}

internal sealed class StripNormalizer(bool left, bool right) : Normalizer
{
    public override string Normalize(string text) => left && right ? text.Trim() : left ? text.TrimStart() : right ? text.TrimEnd() : text;
}

/// <summary>The "pattern" of Replace and Split: a literal string or a regular expression.</summary>
internal sealed class Pattern
{
    private readonly string? _literal;
    private readonly Regex? _regex;

    private Pattern(string? literal, Regex? regex) { _literal = literal; _regex = regex; }

    public static Pattern Parse(JsonNode? node, string where)
    {
        if (node?["String"] is JsonNode s) return new Pattern(s.GetValue<string>(), null);
        if (node?["Regex"] is JsonNode r)
        {
            var source = r.GetValue<string>();
            try { return new Pattern(null, new Regex(source, RegexOptions.CultureInvariant | RegexOptions.Compiled)); }
            catch (ArgumentException e) { throw TokenizerJson.Unsupported($"regular expression '{source}' of the {where} ({e.Message})"); }
        }
        throw TokenizerJson.Unsupported($"pattern of the {where} (expected \"String\" or \"Regex\")");
    }

    public string Replace(string text, string content) =>
        _literal is not null ? (_literal.Length == 0 ? text : text.Replace(_literal, content, StringComparison.Ordinal)) : _regex!.Replace(text, content);

    /// <summary>(start, length) of every match, in order.</summary>
    public IEnumerable<(int Start, int Length)> Matches(string text)
    {
        if (_literal is not null)
        {
            if (_literal.Length == 0) yield break;
            for (int i = text.IndexOf(_literal, StringComparison.Ordinal); i >= 0; i = text.IndexOf(_literal, i + _literal.Length, StringComparison.Ordinal))
                yield return (i, _literal.Length);
            yield break;
        }
        var (copy, offsets) = WithBmpStandIns(text);
        foreach (Match m in _regex!.Matches(copy))
        {
            if (m.Length == 0) continue;
            if (offsets is null) yield return (m.Index, m.Length);
            else yield return (offsets[m.Index], offsets[m.Index + m.Length] - offsets[m.Index]);
        }
    }

    /// <summary>
    /// .NET regular expressions see a character beyond the Basic Multilingual Plane as two surrogates (category Cs),
    /// where Hugging Face's regex engine sees one letter, digit or symbol: \p{L}+ would stop at 𝔘, \p{N}{1,3} would not
    /// count 𝟙 as a digit. Matching therefore runs on a copy in which each such character is one BMP character of the
    /// same Unicode category (never one a pattern names literally); <c>offsets</c> maps the copy's indices back
    /// (null when the text has no such character and the copy is the text itself).
    /// </summary>
    private static (string Copy, int[]? Offsets) WithBmpStandIns(string text)
    {
        int first = text.AsSpan().IndexOfAnyInRange('\uD800', '\uDBFF');
        if (first < 0) return (text, null);
        var copy = new StringBuilder(text.Length);
        var offsets = new List<int>(text.Length + 1);
        for (int i = 0; i < text.Length;)
        {
            offsets.Add(i);
            if (i + 1 < text.Length && char.IsSurrogatePair(text[i], text[i + 1]))
            {
                copy.Append(StandIns[(int)CharUnicodeInfo.GetUnicodeCategory(text, i)]);
                i += 2;
            }
            else copy.Append(text[i++]);
        }
        offsets.Add(text.Length);
        return (copy.ToString(), [.. offsets]);
    }

    /// <summary>For each Unicode category, the first character from U+00A1 on that has it: outside ASCII, so no
    /// pattern's literal ('s, \r, \n, space) can match it, even ignoring case.</summary>
    private static readonly char[] StandIns = BuildStandIns();

    private static char[] BuildStandIns()
    {
        var table = new char[32];
        var found = new bool[32];
        for (int c = 0xA1; c <= 0xFFFF; c++)
        {
            if (c is >= 0xD800 and <= 0xDFFF) continue;
            int category = (int)CharUnicodeInfo.GetUnicodeCategory((char)c);
            if (found[category]) continue;
            table[category] = (char)c;
            found[category] = true;
        }
        return table;
    }
}

/// <summary>A piece of text on its way through pre-tokenization; <see cref="AtStart"/> when it begins the input text.</summary>
internal readonly record struct Piece(string Text, bool AtStart);

internal enum SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous }

internal abstract class PreTokenizer
{
    public abstract void Split(Piece piece, List<Piece> output);

    public static PreTokenizer? Parse(JsonNode? node)
    {
        if (node is null) return null;
        var type = TokenizerJson.Type(node, "pre_tokenizer");
        switch (type)
        {
            case "Sequence":
                return new SequencePreTokenizer([.. TokenizerJson.Array(node, "pretokenizers").Select(n => Parse(n)!)]);
            case "ByteLevel":
                return new ByteLevelPreTokenizer(TokenizerJson.Bool(node, "add_prefix_space", true), TokenizerJson.Bool(node, "use_regex", true));
            case "Split":
                if (TokenizerJson.Bool(node, "invert", false)) throw TokenizerJson.Unsupported("Split pre-tokenizer with invert = true");
                return new SplitPreTokenizer(Pattern.Parse(node["pattern"], "Split pre-tokenizer"), ParseBehavior(node["behavior"]));
            case "Digits":
                return new DigitsPreTokenizer(TokenizerJson.Bool(node, "individual_digits", false));
            case "Metaspace":
                return new MetaspacePreTokenizer(MetaspaceOptions.Parse(node));
            default:
                throw TokenizerJson.Unsupported($"pre-tokenizer '{type}'");
        }
    }

    private static SplitBehavior ParseBehavior(JsonNode? node) => node?.GetValue<string>() switch
    {
        "Removed" => SplitBehavior.Removed,
        "Isolated" => SplitBehavior.Isolated,
        "MergedWithPrevious" => SplitBehavior.MergedWithPrevious,
        "MergedWithNext" => SplitBehavior.MergedWithNext,
        "Contiguous" => SplitBehavior.Contiguous,
        var other => throw TokenizerJson.Unsupported($"Split pre-tokenizer behavior '{other}'"),
    };

    /// <summary>Cuts <paramref name="piece"/> at the given matches the way Hugging Face's SplitDelimiterBehavior does.</summary>
    public static void SplitAt(Piece piece, IEnumerable<(int Start, int Length)> matches, SplitBehavior behavior, List<Piece> output)
    {
        var text = piece.Text;
        var spans = new List<(int Start, int End)>();
        int last = 0;
        int pendingStart = -1; // MergedWithNext: where the current delimiter-led piece starts
        (int Start, int End)? previousMatch = null;
        foreach (var (start, length) in matches)
        {
            int end = start + length;
            switch (behavior)
            {
                case SplitBehavior.Removed:
                    if (start > last) spans.Add((last, start));
                    break;
                case SplitBehavior.Isolated:
                    if (start > last) spans.Add((last, start));
                    spans.Add((start, end));
                    break;
                case SplitBehavior.Contiguous:
                    if (start > last) { spans.Add((last, start)); previousMatch = null; }
                    if (previousMatch is { } pm && pm.End == start) { spans[^1] = (pm.Start, end); previousMatch = (pm.Start, end); }
                    else { spans.Add((start, end)); previousMatch = (start, end); }
                    break;
                case SplitBehavior.MergedWithPrevious:
                    spans.Add((last, end));
                    break;
                case SplitBehavior.MergedWithNext:
                    if (start > last) spans.Add((pendingStart >= 0 ? pendingStart : last, start));
                    else if (pendingStart >= 0) spans.Add((pendingStart, start));
                    pendingStart = start;
                    break;
            }
            last = end;
        }
        if (behavior == SplitBehavior.MergedWithNext)
        {
            if (pendingStart >= 0) spans.Add((pendingStart, text.Length));
            else if (last < text.Length) spans.Add((last, text.Length));
        }
        else if (last < text.Length) spans.Add((last, text.Length));

        bool first = true;
        foreach (var (s, e) in spans)
        {
            if (e <= s) continue;
            output.Add(new Piece(text[s..e], piece.AtStart && first && s == 0));
            first = false;
        }
    }
}

internal sealed class SequencePreTokenizer(PreTokenizer[] steps) : PreTokenizer
{
    public override void Split(Piece piece, List<Piece> output)
    {
        var current = new List<Piece> { piece };
        var next = new List<Piece>();
        foreach (var step in steps)
        {
            next.Clear();
            foreach (var p in current) step.Split(p, next);
            (current, next) = (next, current);
        }
        output.AddRange(current);
    }
}

internal sealed class ByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex) : PreTokenizer
{
    public bool AddPrefixSpace => addPrefixSpace;
    public bool UseRegex => useRegex;

    public override void Split(Piece piece, List<Piece> output)
    {
        var text = addPrefixSpace && !piece.Text.StartsWith(' ') ? " " + piece.Text : piece.Text;
        if (!useRegex) { output.Add(new Piece(ByteLevelAlphabet.Encode(text), piece.AtStart)); return; }
        bool first = true;
        foreach (var (start, length) in Gpt2PreTokenizer.Ranges(text))
        {
            output.Add(new Piece(ByteLevelAlphabet.Encode(text.AsSpan(start, length)), piece.AtStart && first));
            first = false;
        }
    }
}

internal sealed class SplitPreTokenizer(Pattern pattern, SplitBehavior behavior) : PreTokenizer
{
    public override void Split(Piece piece, List<Piece> output) => SplitAt(piece, pattern.Matches(piece.Text), behavior, output);
}

internal sealed class DigitsPreTokenizer(bool individual) : PreTokenizer
{
    public override void Split(Piece piece, List<Piece> output)
    {
        var text = piece.Text;
        var digits = new List<(int, int)>();
        for (int i = 0; i < text.Length;)
        {
            // By code point, as Rust's char::is_numeric: a digit beyond the BMP is one digit, not two surrogates.
            System.Text.Rune.DecodeFromUtf16(text.AsSpan(i), out var rune, out int width);
            if (System.Text.Rune.IsNumber(rune)) digits.Add((i, width));
            i += Math.Max(1, width);
        }
        SplitAt(piece, digits, individual ? SplitBehavior.Isolated : SplitBehavior.Contiguous, output);
    }
}

internal enum PrependScheme { Always, First, Never }

internal sealed record MetaspaceOptions(string Replacement, PrependScheme Scheme, bool Split)
{
    public static MetaspaceOptions Parse(JsonNode node)
    {
        var replacement = TokenizerJson.String(node, "replacement");
        PrependScheme scheme;
        if (node["prepend_scheme"] is JsonNode ps)
            scheme = ps.GetValue<string>() switch
            {
                "always" => PrependScheme.Always,
                "first" => PrependScheme.First,
                "never" => PrependScheme.Never,
                var other => throw TokenizerJson.Unsupported($"Metaspace prepend_scheme '{other}'"),
            };
        else scheme = TokenizerJson.Bool(node, "add_prefix_space", true) ? PrependScheme.Always : PrependScheme.Never;
        return new MetaspaceOptions(replacement, scheme, TokenizerJson.Bool(node, "split", true));
    }
}

internal sealed class MetaspacePreTokenizer(MetaspaceOptions options) : PreTokenizer
{
    public override void Split(Piece piece, List<Piece> output)
    {
        var text = piece.Text.Replace(" ", options.Replacement, StringComparison.Ordinal);
        bool prepend = !text.StartsWith(options.Replacement, StringComparison.Ordinal) &&
            (options.Scheme == PrependScheme.Always || (options.Scheme == PrependScheme.First && piece.AtStart));
        if (prepend) text = options.Replacement + text;
        var replaced = new Piece(text, piece.AtStart);
        if (!options.Split || options.Replacement.Length == 0) { output.Add(replaced); return; }
        var matches = new List<(int, int)>();
        for (int i = text.IndexOf(options.Replacement, StringComparison.Ordinal); i >= 0;
             i = text.IndexOf(options.Replacement, i + options.Replacement.Length, StringComparison.Ordinal))
            matches.Add((i, options.Replacement.Length));
        SplitAt(replaced, matches, SplitBehavior.MergedWithNext, output);
    }
}

/// <summary>A decoder stage: Hugging Face's decode_chain, token strings in, token strings out.</summary>
internal abstract class Decoder
{
    public abstract List<string> DecodeChain(List<string> tokens);

    public static Decoder? Parse(JsonNode? node)
    {
        if (node is null) return null;
        var type = TokenizerJson.Type(node, "decoder");
        return type switch
        {
            "Sequence" => new SequenceDecoder([.. TokenizerJson.Array(node, "decoders").Select(n => Parse(n)!)]),
            "ByteLevel" => new ByteLevelDecoder(),
            "Replace" => new ReplaceDecoder(Pattern.Parse(node["pattern"], "Replace decoder"), TokenizerJson.String(node, "content")),
            "ByteFallback" => new ByteFallbackDecoder(),
            "Fuse" => new FuseDecoder(),
            "Strip" => new StripDecoder(TokenizerJson.String(node, "content"), TokenizerJson.Int(node, "start", 0), TokenizerJson.Int(node, "stop", 0)),
            "Metaspace" => new MetaspaceDecoder(MetaspaceOptions.Parse(node)),
            _ => throw TokenizerJson.Unsupported($"decoder '{type}'"),
        };
    }
}

internal sealed class SequenceDecoder(Decoder[] steps) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        foreach (var s in steps) tokens = s.DecodeChain(tokens);
        return tokens;
    }
}

internal sealed class ByteLevelDecoder : Decoder
{
    /// <summary>
    /// The bytes a token stands for. Hugging Face passes a token with any character outside the byte alphabet
    /// (an added token such as "▁x") through as its own UTF-8.
    /// </summary>
    public static byte[] TokenBytes(string token)
    {
        var bytes = new byte[token.Length];
        for (int i = 0; i < token.Length; i++)
            if (!ByteLevelAlphabet.TryCharToByte(token[i], out bytes[i])) return Encoding.UTF8.GetBytes(token);
        return bytes;
    }

    public override List<string> DecodeChain(List<string> tokens)
    {
        var bytes = new List<byte>();
        foreach (var token in tokens) bytes.AddRange(TokenBytes(token));
        return [Encoding.UTF8.GetString([.. bytes])];
    }
}

internal sealed class ReplaceDecoder(Pattern pattern, string content) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens) => [.. tokens.Select(t => pattern.Replace(t, content))];
}

internal sealed class ByteFallbackDecoder : Decoder
{
    public static bool TryParseByteToken(string token, out byte value)
    {
        value = 0;
        return token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>' &&
            byte.TryParse(token.AsSpan(3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
    }

    public override List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        var pending = new List<byte>();
        void Flush()
        {
            if (pending.Count == 0) return;
            try { result.Add(new UTF8Encoding(false, true).GetString([.. pending])); }
            catch (DecoderFallbackException) { for (int i = 0; i < pending.Count; i++) result.Add("\uFFFD"); }
            pending.Clear();
        }
        foreach (var token in tokens)
        {
            if (TryParseByteToken(token, out var b)) { pending.Add(b); continue; }
            Flush();
            result.Add(token);
        }
        Flush();
        return result;
    }
}

internal sealed class FuseDecoder : Decoder
{
    public override List<string> DecodeChain(List<string> tokens) => [string.Concat(tokens)];
}

internal sealed class StripDecoder(string content, int start, int stop) : Decoder
{
    private readonly char _content = content.Length == 1 ? content[0]
        : throw TokenizerJson.Unsupported($"Strip decoder with content '{content}' (one character expected)");

    public override List<string> DecodeChain(List<string> tokens) => [.. tokens.Select(Strip)];

    private string Strip(string token)
    {
        int from = 0;
        while (from < start && from < token.Length && token[from] == _content) from++;
        int to = token.Length;
        while (token.Length - to < stop && to > from && token[to - 1] == _content) to--;
        return token[from..to];
    }
}

internal sealed class MetaspaceDecoder(MetaspaceOptions options) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        for (int i = 0; i < tokens.Count; i++)
        {
            // As Hugging Face: in the first token every replacement is dropped (it stands for the prepended space).
            var space = i == 0 && options.Scheme != PrependScheme.Never ? "" : " ";
            result.Add(tokens[i].Replace(options.Replacement, space, StringComparison.Ordinal));
        }
        return result;
    }
}

/// <summary>What the post-processor adds around the ids of one sequence (for example the beginning-of-text token).</summary>
internal abstract class PostProcessor
{
    public abstract int[] ProcessSingle(int[] ids);

    public static PostProcessor? Parse(JsonNode? node, Func<string, int> tokenId)
    {
        if (node is null) return null;
        var type = TokenizerJson.Type(node, "post_processor");
        switch (type)
        {
            case "Sequence":
                return new SequencePostProcessor([.. TokenizerJson.Array(node, "processors").Select(n => Parse(n, tokenId)).OfType<PostProcessor>()]);
            case "ByteLevel":
                return null; // only adjusts offsets, which SLM Studio does not expose
            case "TemplateProcessing":
                return TemplatePostProcessor.Parse(node);
            case "BertProcessing":
            case "RobertaProcessing":
                var cls = TokenizerJson.Array(node, "cls");
                var sep = TokenizerJson.Array(node, "sep");
                return new FixedPostProcessor([cls[1]!.GetValue<int>()], [sep[1]!.GetValue<int>()]);
            default:
                throw TokenizerJson.Unsupported($"post-processor '{type}'");
        }
    }
}

internal sealed class SequencePostProcessor(PostProcessor[] steps) : PostProcessor
{
    public override int[] ProcessSingle(int[] ids)
    {
        foreach (var s in steps) ids = s.ProcessSingle(ids);
        return ids;
    }
}

internal sealed class FixedPostProcessor(int[] before, int[] after) : PostProcessor
{
    public override int[] ProcessSingle(int[] ids) => [.. before, .. ids, .. after];
}

internal sealed class TemplatePostProcessor(List<int[]?> template) : PostProcessor
{
    /// <summary>The ids the template puts before the sequence (empty when none).</summary>
    public IReadOnlyList<int[]?> Template => template;

    public static TemplatePostProcessor Parse(JsonNode node)
    {
        var specials = node["special_tokens"] as JsonObject ?? [];
        var template = new List<int[]?>();
        foreach (var item in TokenizerJson.Array(node, "single"))
        {
            if (item?["Sequence"] is not null) { template.Add(null); continue; }
            if (item?["SpecialToken"]?["id"]?.GetValue<string>() is { } name)
            {
                var ids = specials[name]?["ids"]?.AsArray().Select(x => x!.GetValue<int>()).ToArray()
                    ?? throw TokenizerJson.Unsupported($"TemplateProcessing that names '{name}' without listing it in special_tokens");
                template.Add(ids);
                continue;
            }
            throw TokenizerJson.Unsupported($"TemplateProcessing item {item?.ToJsonString()}");
        }
        return new TemplatePostProcessor(template);
    }

    public override int[] ProcessSingle(int[] ids)
    {
        var result = new List<int>(ids.Length + 2);
        foreach (var part in template) result.AddRange(part ?? ids);
        return [.. result];
    }
}

/// <summary>Small helpers to read tokenizer.json with messages that say what is wrong.</summary>
internal static class TokenizerJson
{
    public static UnsupportedModelException Unsupported(string what) =>
        new($"This tokenizer uses {what}, which SLM Studio does not support. Supported: byte-level BPE (GPT-2, SmolLM, Qwen style) and SentencePiece-style BPE with byte fallback (Llama, Mistral style).");

    public static string Type(JsonNode node, string what) =>
        node["type"]?.GetValue<string>() ?? throw new UnsupportedModelException($"The tokenizer's {what} has no \"type\".");

    public static JsonArray Array(JsonNode node, string name) =>
        node[name] as JsonArray ?? throw new UnsupportedModelException($"The tokenizer's {Type(node, "component")} has no \"{name}\" list.");

    public static string String(JsonNode node, string name) =>
        node[name]?.GetValue<string>() ?? throw new UnsupportedModelException($"The tokenizer's {Type(node, "component")} has no \"{name}\".");

    public static bool Bool(JsonNode node, string name, bool fallback) => node[name]?.GetValue<bool>() ?? fallback;

    public static int Int(JsonNode node, string name, int fallback) => node[name]?.GetValue<int>() ?? fallback;
}
