using System.Text;
using System.Text.Json.Nodes;
using SlmStudio.Core.Tokenization;
using Xunit.Abstractions;
using HfNative = Tokenizers.DotNet.Tokenizer;

namespace SlmStudio.Core.Tests.Tokenization;

/// <summary>
/// Byte-level BPE with the regex <c>Split</c> pre-tokenizer of Qwen2 and Llama-3 tokenizer.json files, against the
/// Hugging Face tokenizers library. The real tokenizers cannot be downloaded here, so each test builds one in the
/// published layout (the exact pre-tokenizer regexes, NFC for Qwen2, ignore_merges and a beginning-of-text template
/// for Llama-3, their special tokens) around the vocabulary and merges of a BPE trained in the tests.
/// </summary>
public sealed class SplitRegexParityTests(ITestOutputHelper output)
{
    /// <summary>Qwen2 / Qwen2.5's pre-tokenizer regex, as published in their tokenizer.json (one digit per piece).</summary>
    public const string Qwen2Regex = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>Llama-3's (and Llama-3.2's) pre-tokenizer regex: numbers in groups of up to three digits.</summary>
    public const string Llama3Regex = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private static readonly Lazy<string> Qwen2Path = new(() => Write("qwen2-style", Qwen2Style()));
    private static readonly Lazy<string> Llama3Path = new(() => Write("llama3-style", Llama3Style()));

    private static JsonObject SplitThenByteLevel(string regex) => new()
    {
        ["type"] = "Sequence",
        ["pretokenizers"] = new JsonArray(
            new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = regex }, ["behavior"] = "Isolated", ["invert"] = false },
            new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = false }),
    };

    private static JsonObject ByteLevel() => new() { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = false, ["use_regex"] = false };

    private static JsonObject Added(int id, string content, bool special = true) => new()
    {
        ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
        ["normalized"] = !special, ["special"] = special,
    };

    /// <summary>
    /// Texts whose pieces depend on the finest details of the regexes (characters beyond the Basic Multilingual Plane,
    /// digit groups, a space before a digit or symbol, contractions). Merges learned from a corpus rarely cross piece
    /// boundaries, so ids could agree even where the pieces differ; each of these texts therefore gets its own chain
    /// of merges, ranked first, that joins it into one token, which a tokenizer produces only if it keeps the text as
    /// one piece.
    /// </summary>
    private static readonly string[] BoundaryWords =
        ["𝟙𝟚𝟛𝟜𝟝", "𝟙𝟚𝟛", " 𝟙", "a𝟘", "𐒠𐒡", "7𝟠", "x𝔘𝔫", " 𝔘𝔫", "12345", "123", " 12", "'S", "'ll", " 'll", "'LL",
         " ...", "...\n", "\n\n", "  \n", " \n", "  ", "!!!", " !!!", "😀😀", " 😀", "é1", "1é", "\u00A0x", " \u3000"];

    /// <summary>The trained tokenizer's model (byte-level vocabulary and merges, plus the boundary merges) with the
    /// given added tokens after it.</summary>
    private static (JsonObject Json, int NextId) Base()
    {
        var json = JsonNode.Parse(File.ReadAllText(TokenizerTestData.TrainedPath))!.AsObject();
        var vocab = json["model"]!["vocab"]!.AsObject();
        var next = vocab.Select(v => v.Value!.GetValue<int>()).Concat(json["added_tokens"]!.AsArray().Select(t => t!["id"]!.GetValue<int>())).Max() + 1;
        var merges = json["model"]!["merges"]!.AsArray();
        var boundary = new List<JsonNode>();
        var known = new HashSet<string>(merges.Select(m => m is JsonArray a ? a[0]!.GetValue<string>() + " " + a[1]!.GetValue<string>() : m!.GetValue<string>()), StringComparer.Ordinal);
        foreach (var word in BoundaryWords)
        {
            var symbols = ByteLevelAlphabet.Encode(word);
            var left = symbols[..1];
            for (int i = 1; i < symbols.Length; i++)
            {
                var right = symbols[i..(i + 1)];
                if (known.Add(left + " " + right)) boundary.Add(JsonValue.Create(left + " " + right));
                left += right;
                if (!vocab.ContainsKey(left)) vocab[left] = next++;
            }
        }
        var all = new JsonArray();
        foreach (var m in boundary.Concat(merges.Select(m => m!.DeepClone()))) all.Add(m);
        json["model"]!["merges"] = all;
        return (json, next);
    }

    private static JsonObject Qwen2Style()
    {
        var (json, next) = Base();
        json["normalizer"] = new JsonObject { ["type"] = "NFC" };
        json["pre_tokenizer"] = SplitThenByteLevel(Qwen2Regex);
        json["post_processor"] = ByteLevel();
        json["decoder"] = ByteLevel();
        var added = json["added_tokens"]!.AsArray();
        added.Add(Added(next, "<|endoftext|>"));
        added.Add(Added(next + 1, "<|im_start|>"));
        added.Add(Added(next + 2, "<|im_end|>"));
        // Qwen2 also has non-special added tokens (e.g. tool-call markers), matched after normalization.
        added.Add(Added(next + 3, "<tool_call>", special: false));
        json["model"]!["ignore_merges"] = false;
        return json;
    }

    private static JsonObject Llama3Style()
    {
        var (json, next) = Base();
        json["normalizer"] = null;
        json["pre_tokenizer"] = SplitThenByteLevel(Llama3Regex);
        var bos = BpeTrainer.BosToken; // "<|begin_of_text|>", Llama-3's own name, already in the trained vocabulary
        var bosId = json["added_tokens"]!.AsArray().First(t => t!["content"]!.GetValue<string>() == bos)!["id"]!.GetValue<int>();
        json["post_processor"] = new JsonObject
        {
            ["type"] = "Sequence",
            ["processors"] = new JsonArray(
                new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = false, ["use_regex"] = true },
                new JsonObject
                {
                    ["type"] = "TemplateProcessing",
                    ["single"] = new JsonArray(
                        new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = bos, ["type_id"] = 0 } },
                        new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } }),
                    ["pair"] = new JsonArray(
                        new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = bos, ["type_id"] = 0 } },
                        new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } },
                        new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = bos, ["type_id"] = 1 } },
                        new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "B", ["type_id"] = 1 } }),
                    ["special_tokens"] = new JsonObject { [bos] = new JsonObject { ["id"] = bos, ["ids"] = new JsonArray(bosId), ["tokens"] = new JsonArray(bos) } },
                }),
        };
        json["decoder"] = ByteLevel();
        var added = json["added_tokens"]!.AsArray();
        added.Add(Added(next, "<|start_header_id|>"));
        added.Add(Added(next + 1, "<|end_header_id|>"));
        added.Add(Added(next + 2, "<|eot_id|>"));
        // Llama-3 takes a word that is itself in the vocabulary whole, before trying merges.
        json["model"]!["ignore_merges"] = true;
        return json;
    }

    private static string Write(string name, JsonObject json)
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "tokenizer-tests", name);
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, "tokenizer.json");
        File.WriteAllText(path, json.ToJsonString());
        return path;
    }

    private static readonly string[] Fragments =
    [
        "Hello", " world", "it's", " we're", " THEY'VE", " I'm", " you'll", " he'd", " don't", "'S", " 'll", "''",
        "12345", " 3.14159", " -42", "1,234,567.89", " 2026-12-01", " 0x1F", "1e10", "٣٤٥", "१२३", "Ⅻ", "½",
        "naïve", " café", " Grüße", " Ærøskøbing", " Ελληνικά", " русский", " 你好，世界", "。日本語", " 한국어",
        "e\u0301", " a\u0308", "\u212B", " Å", "\uFB01", // decomposed, compatibility and composed forms: NFC matters
        "😀", "🎉👍🏽", " 👨‍👩‍👧", "🇩🇪🇯🇵", "x𝔘𝔫𝔦", " 𠀀𠀁",
        // Characters beyond the Basic Multilingual Plane next to digits and letters (see BoundaryWords).
        "𝟙𝟚𝟛𝟜𝟝", " 𝟙", "a𝟘", "𐒠𐒡", "7𝟠", "123", " 12", "'LL", " ...", "!!!", "é1", "x𝔘𝔫", " 𝔘𝔫",
        "  ", "    ", "\t", "\t\t", "\n", "\n\n", "\r\n", " \n ", "   \n\n  ", "\u00A0", "\u3000", "\u2009", "\u200B",
        "def f(x):", "\n    return x**2", "{ \"key\": [1, 2, 3] }", "if (a && b) { c++; }", "<div class=\"x\">", "#include <stdio.h>",
        "...", "!!!", "?!", " --", " —", "…", "«»", "“curly”", "@user", " #tag", "$100", "50%", "a/b\\c", "::",
        "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|begin_of_text|>", "<|start_header_id|>", "<|eot_id|>", "<tool_call>",
    ];

    /// <summary>A few hundred texts: the shared tricky ones, chat-shaped ones, and seeded random mixes of fragments.</summary>
    public static IReadOnlyList<string> Texts()
    {
        var texts = new List<string>();
        foreach (string text in TokenizerTestData.TrickyTexts) texts.Add(text);
        foreach (string text in TokenizerTestData.SpecialLiteralTexts) texts.Add(text);
        texts.Add("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nWhat's 12+30?<|im_end|>\n<|im_start|>assistant\n");
        texts.Add("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi there!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
        var random = new Random(2026);
        while (texts.Count < 400)
        {
            var sb = new StringBuilder();
            int parts = 1 + random.Next(8);
            for (int i = 0; i < parts; i++) sb.Append(Fragments[random.Next(Fragments.Length)]);
            texts.Add(sb.ToString());
        }
        return texts;
    }

    private static int[] Ints(uint[] ids) => [.. ids.Select(i => (int)i)];

    private void AssertParity(string path, string kind)
    {
        var ours = TokenizerFile.Load(path);
        using var hf = new HfNative(path);
        var texts = Texts();
        var encodeMismatches = new List<string>();
        var decodeMismatches = new List<string>();
        foreach (var text in texts)
        {
            var expected = Ints(hf.Encode(text));
            var actual = ours.Encode(text, addSpecialTokens: true);
            if (!expected.SequenceEqual(actual))
                encodeMismatches.Add($"{Escape(text)}: HF [{string.Join(",", expected)}] ours [{string.Join(",", actual)}]");
            else if (hf.Decode([.. expected.Select(i => (uint)i)]) != ours.Decode(expected))
                decodeMismatches.Add(Escape(text));
        }
        output.WriteLine($"{kind}: {texts.Count - encodeMismatches.Count}/{texts.Count} texts encode to the same ids as Hugging Face tokenizers; {decodeMismatches.Count} decode differently.");
        foreach (var m in encodeMismatches.Take(10)) output.WriteLine("  " + m);
        Assert.True(encodeMismatches.Count == 0, $"{encodeMismatches.Count} of {texts.Count} texts differ, e.g. {encodeMismatches.FirstOrDefault()}");
        Assert.True(decodeMismatches.Count == 0, $"{decodeMismatches.Count} texts decode differently, e.g. {decodeMismatches.FirstOrDefault()}");
    }

    private static string Escape(string text) =>
        string.Concat(text.Take(80).Select(c => c < ' ' || (c >= '\u007f' && c <= '\u00a0') || char.IsSurrogate(c) ? $"\\u{(int)c:X4}" : c.ToString()));

    [Fact]
    public void Qwen2StyleTokenizerGivesTheSameIdsAsHuggingFace() => AssertParity(Qwen2Path.Value, "Qwen2-style");

    [Fact]
    public void Llama3StyleTokenizerGivesTheSameIdsAsHuggingFace() => AssertParity(Llama3Path.Value, "Llama-3-style");

    [Fact]
    public void TheBuiltTokenizersUseWhatTheyClaim()
    {
        // Guards the test itself: the Llama-3 layout adds the beginning-of-text id, the Qwen2 layout adds nothing.
        var qwen = TokenizerFile.Load(Qwen2Path.Value);
        var llama = TokenizerFile.Load(Llama3Path.Value);
        // Qwen2's regex makes every digit its own piece, so no merge can join digits.
        Assert.Equal(5, qwen.Encode("12345", addSpecialTokens: false).Length);
        Assert.Equal(llama.BosId, llama.Encode("hi", addSpecialTokens: true)[0]);
        Assert.Equal(qwen.Encode("hi", addSpecialTokens: false), qwen.Encode("hi", addSpecialTokens: true));
        // NFC: the decomposed and composed spellings are one text to Qwen2, two to Llama-3.
        Assert.Equal(qwen.Encode("cafe\u0301", addSpecialTokens: false), qwen.Encode("café", addSpecialTokens: false));
        Assert.NotEqual(llama.Encode("cafe\u0301", addSpecialTokens: false), llama.Encode("café", addSpecialTokens: false));
        var imStart = qwen.Encode("<|im_start|>", addSpecialTokens: false);
        Assert.Single(imStart);
    }
}
