using System.Text;
using System.Text.Json.Nodes;
using SlmStudio.Core.Tokenization;
using HfNative = Tokenizers.DotNet.Tokenizer;

namespace SlmStudio.Core.Tests.Tokenization;

/// <summary>
/// Our ids against the real Hugging Face tokenizers library (Rust, through Tokenizers.DotNet 1.4.1, which wraps
/// tokenizers 0.22). Its Encode adds special tokens (the post-processor) and its Decode skips special tokens.
/// </summary>
public class HuggingFaceParityTests
{
    private static readonly Lazy<HfNative> HfTrained = new(() => new HfNative(TokenizerTestData.TrainedPath));
    private static readonly Lazy<HfNative> HfTinyLlama = new(() => new HfNative(TokenizerTestData.TinyLlamaTokenizerJson));

    private static int[] Ints(uint[] ids) => [.. ids.Select(i => (int)i)];

    [Theory]
    [MemberData(nameof(TokenizerTestData.TrickyTexts), MemberType = typeof(TokenizerTestData))]
    [MemberData(nameof(TokenizerTestData.SpecialLiteralTexts), MemberType = typeof(TokenizerTestData))]
    public void TrainedTokenizerGivesTheSameIdsAsHuggingFace(string text)
    {
        var ours = TokenizerFile.Load(TokenizerTestData.TrainedPath);
        var expected = Ints(HfTrained.Value.Encode(text));
        Assert.Equal(expected, ours.Encode(text, addSpecialTokens: true));
        Assert.Equal(HfTrained.Value.Decode([.. expected.Select(i => (uint)i)]), ours.Decode(expected));
    }

    [Fact]
    public void TrainedTokenizerMatchesHuggingFaceOnTheWholeCorpusAndRandomUnicode()
    {
        var ours = TokenizerTestData.Trained;
        Assert.Equal(Ints(HfTrained.Value.Encode(TokenizerTestData.Corpus)), ours.Encode(TokenizerTestData.Corpus, addSpecialTokens: true));
        var random = new Random(3);
        for (int n = 0; n < 200; n++)
        {
            var text = RandomText(random, 1 + random.Next(40));
            Assert.Equal(Ints(HfTrained.Value.Encode(text)), ours.Encode(text, addSpecialTokens: true));
        }
    }

    [Theory]
    [MemberData(nameof(TokenizerTestData.TrickyTexts), MemberType = typeof(TokenizerTestData))]
    [MemberData(nameof(TokenizerTestData.SpecialLiteralTexts), MemberType = typeof(TokenizerTestData))]
    public void TinyLlamaTokenizerGivesTheSameIdsAsHuggingFace(string text)
    {
        var ours = TokenizerFile.Load(TokenizerTestData.TinyLlamaTokenizerJson);
        var expected = Ints(HfTinyLlama.Value.Encode(text));
        Assert.Equal(expected, ours.Encode(text, addSpecialTokens: true));
        Assert.Equal(HfTinyLlama.Value.Decode([.. expected.Select(i => (uint)i)]), ours.Decode(expected));
    }

    [Fact]
    public void TinyLlamaTokenizerMatchesHuggingFaceOnRandomUnicode()
    {
        var ours = TokenizerFile.Load(TokenizerTestData.TinyLlamaTokenizerJson);
        var random = new Random(5);
        for (int n = 0; n < 200; n++)
        {
            var text = RandomText(random, 1 + random.Next(40));
            var expected = Ints(HfTinyLlama.Value.Encode(text));
            Assert.Equal(expected, ours.Encode(text, addSpecialTokens: true));
            Assert.Equal(HfTinyLlama.Value.Decode([.. expected.Select(i => (uint)i)]), ours.Decode(expected));
        }
    }

    /// <summary>Random id sequences (broken UTF-8, stray byte tokens, special tokens anywhere) decode as Hugging Face decodes them.</summary>
    [Fact]
    public void RandomIdSequencesDecodeAsHuggingFaceDecodesThem()
    {
        foreach (var (ours, hf) in new[] { ((ITokenizer)TokenizerTestData.Trained, HfTrained.Value), (TokenizerFile.Load(TokenizerTestData.TinyLlamaTokenizerJson), HfTinyLlama.Value) })
        {
            var random = new Random(17);
            for (int n = 0; n < 300; n++)
            {
                var ids = Enumerable.Range(0, 1 + random.Next(12)).Select(_ => random.Next(ours.VocabSize)).ToArray();
                Assert.Equal(hf.Decode([.. ids.Select(i => (uint)i)]), ours.Decode(ids));
            }
        }
    }

    /// <summary>
    /// Variants of the pipeline that real models ship (Qwen/Llama 3 Split + ByteLevel, SmolLM Digits + ByteLevel,
    /// merges as arrays, Metaspace instead of the Prepend/Replace normalizer), written from our trained tokenizer and
    /// the fixture, each checked against Hugging Face.
    /// </summary>
    [Theory]
    [InlineData("split-bytelevel")]
    [InlineData("split-bytelevel-supplementary")]
    [InlineData("digits-bytelevel")]
    [InlineData("array-merges")]
    [InlineData("prefix-space")]
    [InlineData("metaspace-first")]
    [InlineData("metaspace-always")]
    [InlineData("eos-template")]
    public void PipelineVariantsMatchHuggingFace(string variant)
    {
        using var dir = new TempFolder();
        var path = dir.File("tokenizer.json");
        File.WriteAllText(path, Variants.Build(variant)); // UTF-8 without a byte order mark, which the Rust loader refuses
        var ours = TokenizerFile.Load(path);
        using var hf = new HfNative(path);
        var random = new Random(11);
        var texts = ((IEnumerable<object[]>)TokenizerTestData.TrickyTexts).Select(row => (string)row[0]).ToList();
        texts.AddRange(((IEnumerable<object[]>)TokenizerTestData.SpecialLiteralTexts).Select(row => (string)row[0]));
        for (int n = 0; n < 50; n++) texts.Add(RandomText(random, 1 + random.Next(30)));
        texts.Add(TokenizerTestData.Corpus[..20_000]);
        foreach (var text in texts)
        {
            var expected = Ints(hf.Encode(text));
            var actual = ours.Encode(text, addSpecialTokens: true);
            Assert.True(expected.SequenceEqual(actual), $"{variant}: \"{text}\"\n HF:   {string.Join(",", expected)}\n ours: {string.Join(",", actual)}");
            Assert.Equal(hf.Decode([.. expected.Select(i => (uint)i)]), ours.Decode(expected));
        }
    }

    /// <summary>Random text from ASCII, Latin-1, Greek, CJK, emoji and whitespace, so every pre-tokenizer branch is hit.</summary>
    internal static string RandomText(Random random, int length)
    {
        (int From, int To)[] ranges =
        [
            (0x20, 0x7E), (0x20, 0x7E), (0x20, 0x7E), (0x61, 0x7A), (0x61, 0x7A), (0x30, 0x39), (0xA0, 0xFF), (0x391, 0x3C9),
            (0x4E00, 0x4E80), (0x1F600, 0x1F64F), (0x20000, 0x20010), (0x2000, 0x200D),
        ];
        char[] spaces = [' ', ' ', '\n', '\t', '\r', '\'', '<', '>', '|', 's', '_'];
        var sb = new StringBuilder();
        for (int i = 0; i < length; i++)
        {
            if (random.Next(4) == 0) { sb.Append(spaces[random.Next(spaces.Length)]); continue; }
            var (from, to) = ranges[random.Next(ranges.Length)];
            sb.Append(char.ConvertFromUtf32(random.Next(from, to + 1)));
        }
        return sb.ToString();
    }

    private static class Variants
    {
        private const string Llama3Pattern =
            @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

        public static string Build(string variant)
        {
            var trained = JsonNode.Parse(TokenizerTestData.Trained.ToJson())!.AsObject();
            if (variant == "split-bytelevel-supplementary")
            {
                // Frequent words that mix ASCII with letters beyond the Basic Multilingual Plane, so that merges
                // across them exist and a split in the wrong place changes the ids.
                var text = string.Concat(Enumerable.Repeat("The x𝔘𝔫𝔦𝔠𝔬𝔡𝔢 and y𠀀𠀁 names. ", 50)) + TokenizerTestData.Corpus[..20_000];
                trained = JsonNode.Parse(new BpeTrainer(400).Train(text).ToJson())!.AsObject();
                variant = "split-bytelevel";
            }
            var llama = JsonNode.Parse(File.ReadAllText(TokenizerTestData.TinyLlamaTokenizerJson))!.AsObject();
            switch (variant)
            {
                case "split-bytelevel":
                    trained["pre_tokenizer"] = JsonNode.Parse($$"""
                        {"type":"Sequence","pretokenizers":[
                          {"type":"Split","pattern":{"Regex":{{System.Text.Json.JsonSerializer.Serialize(Llama3Pattern)}}},"behavior":"Isolated","invert":false},
                          {"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":false}]}
                        """);
                    trained["normalizer"] = JsonNode.Parse("""{"type":"NFC"}""");
                    trained["model"]!["ignore_merges"] = true;
                    return trained.ToJsonString();
                case "digits-bytelevel":
                    trained["pre_tokenizer"] = JsonNode.Parse("""
                        {"type":"Sequence","pretokenizers":[
                          {"type":"Digits","individual_digits":true},
                          {"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true}]}
                        """);
                    trained["post_processor"] = null;
                    return trained.ToJsonString();
                case "array-merges":
                    var merges = trained["model"]!["merges"]!.AsArray().Select(m => m!.GetValue<string>().Split(' ')).ToList();
                    trained["model"]!["merges"] = new JsonArray([.. merges.Select(m => (JsonNode)new JsonArray(m[0], m[1]))]);
                    return trained.ToJsonString();
                case "prefix-space":
                    trained["pre_tokenizer"]!["add_prefix_space"] = true;
                    trained["post_processor"] = JsonNode.Parse("""{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":false,"use_regex":true}""");
                    return trained.ToJsonString();
                case "metaspace-first":
                case "metaspace-always":
                    var scheme = variant == "metaspace-first" ? "first" : "always";
                    llama["normalizer"] = null;
                    llama["pre_tokenizer"] = JsonNode.Parse($$"""{"type":"Metaspace","replacement":"▁","prepend_scheme":"{{scheme}}","split":false}""");
                    llama["decoder"] = JsonNode.Parse($$"""{"type":"Metaspace","replacement":"▁","prepend_scheme":"{{scheme}}","split":false}""");
                    return llama.ToJsonString();
                case "eos-template":
                    llama["post_processor"] = JsonNode.Parse("""
                        {"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"</s>","type_id":0}}],
                         "pair":[{"Sequence":{"id":"A","type_id":0}},{"Sequence":{"id":"B","type_id":1}}],
                         "special_tokens":{"<s>":{"id":"<s>","ids":[1],"tokens":["<s>"]},"</s>":{"id":"</s>","ids":[2],"tokens":["</s>"]}}}
                        """);
                    return llama.ToJsonString();
                default:
                    throw new ArgumentException(variant);
            }
        }
    }
}
