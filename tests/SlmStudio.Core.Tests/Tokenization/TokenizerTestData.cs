using System.Text;
using SlmStudio.Cli.Bench;
using SlmStudio.Core.Tokenization;

namespace SlmStudio.Core.Tests.Tokenization;

/// <summary>Shared inputs of the tokenizer tests: a training corpus, one tokenizer trained on it, and tricky texts.</summary>
public static class TokenizerTestData
{
    /// <summary>The tiny Llama fixture: ../shared/fixtures beside the repository, or the machine's shared folder.</summary>
    public static string TinyLlamaTokenizerJson
    {
        get
        {
            foreach (var folder in new[] { TestPaths.TinyLlama, "/work/shared/fixtures/tiny-llama-hf" })
            {
                var path = Path.Combine(folder, "tokenizer.json");
                if (File.Exists(path)) return path;
            }
            throw new InvalidOperationException("The tiny-llama-hf fixture was not found (expected ../shared/fixtures/tiny-llama-hf beside the repository).");
        }
    }

    public static string TinyLlamaFolder => Path.GetDirectoryName(TinyLlamaTokenizerJson)!;

    private static readonly string[] Multilingual =
    [
        "Grüße aus München, naïve café, Ærøskøbing. ",
        "你好，世界。日本語のテキストも少し。한국어 문장. ",
        "Emoji: 😀🎉👍🏽 and a family 👨‍👩‍👧 at the end. ",
        "Tabs\tand\t\tcolumns\n    indented code { return x; }\r\n",
        "Prices: 1,234.56 EUR, 99% done, 2026-11-27. ",
        // Letters outside the Basic Multilingual Plane right after ASCII letters: merges across them are learned, so
        // a pre-tokenizer that does not see them as letters would split differently from Hugging Face.
        "The x𝔘𝔫𝔦𝔠𝔬𝔡𝔢 and y𠀀𠀁 names. ",
    ];

    /// <summary>About 300 KB of English-like text with some other scripts, emoji and code mixed in.</summary>
    public static string Corpus { get; } = BuildCorpus();

    private static string BuildCorpus()
    {
        var sb = new StringBuilder(EnglishTextGenerator.Generate(300_000, seed: 7));
        for (int i = 0; i < 40; i++) sb.Append(Multilingual[i % Multilingual.Length]);
        return sb.ToString();
    }

    private static readonly Lazy<HfTokenizer> TrainedLazy = new(() => new BpeTrainer(1024).Train(Corpus));

    /// <summary>A 1,024-token byte-level BPE tokenizer trained on <see cref="Corpus"/> (trained once per test run).</summary>
    public static HfTokenizer Trained => TrainedLazy.Value;

    private static readonly Lazy<string> TrainedPathLazy = new(() =>
    {
        // Beside the test binaries, overwritten by every run, so nothing piles up in the temp folder.
        var path = Path.Combine(AppContext.BaseDirectory, "tokenizer-tests", "trained-tokenizer.json");
        Trained.Save(path);
        return path;
    });

    /// <summary><see cref="Trained"/> saved as tokenizer.json in a temporary folder.</summary>
    public static string TrainedPath => TrainedPathLazy.Value;

    /// <summary>Texts that stress pre-tokenization and byte handling.</summary>
    public static TheoryData<string> TrickyTexts => new()
    {
        "",
        "Hello, world!",
        "the customer account balance was transferred",
        "  leading and trailing spaces  ",
        "runs     of      spaces and\t\ttabs\t",
        "line one\r\nline two\r\n\r\nline four",
        "\n\n\nnewlines only\n",
        "digits 1234567890 and 3.14159, -42, 1e10",
        "Unicode: naïve café, Ærøskøbing, Grüße, Ελληνικά, русский",
        "CJK: 你好，世界。日本語のテキスト。한국어",
        "emoji: 😀🎉👍🏽 family 👨‍👩‍👧 flags 🇩🇪🇯🇵",
        "contractions: it's we're they've I'm you'll he'd don't 'S 'Re",
        "symbols ∑∫√ → ← ©®™ «quotes» “curly” ‘single’ — dash … ellipsis",
        "\u00A0non-breaking\u00A0space and\u3000ideographic space\u2009thin",
        "supplementary letters 𠀀𠀁 and math 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 and 𝟙𝟚𝟛 digits",
        "x𝔘𝔫𝔦𝔠𝔬𝔡𝔢 y𠀀𠀁 The x𝔘𝔫𝔦",
        "combining e\u0301 a\u0308 and zero\u200Bwidth\u200Djoiner",
        "x",
        " ",
        "\t",
        "a  b",
        "a \n b",
        "'''quotes'''",
        "special-looking <|end_of_text and <|pad| and < s> and </ s> and <S>",
        // Long pre-tokens take the heap-based merge path.
        new string('a', 301),
        string.Concat(Enumerable.Repeat("customer", 40)),
        string.Concat(Enumerable.Repeat("你好世界", 30)),
        string.Concat(Enumerable.Repeat("😀", 50)),
    };

    /// <summary>Texts that spell special tokens exactly (Hugging Face splits them out as the special token).</summary>
    public static TheoryData<string> SpecialLiteralTexts => new()
    {
        "<s>",
        "before <s> after </s>",
        "a<|end_of_text|>b<|begin_of_text|> <|pad|>",
        "<|end_of_text|><|end_of_text|>",
        "<s><s></s>",
    };
}
