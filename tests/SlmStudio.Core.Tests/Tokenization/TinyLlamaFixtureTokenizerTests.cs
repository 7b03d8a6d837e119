using System.Text.Json.Nodes;
using SlmStudio.Core.Models;
using SlmStudio.Core.Tokenization;

namespace SlmStudio.Core.Tests.Tokenization;

public class TinyLlamaFixtureTokenizerTests
{
    private static HfTokenizer Load() => TokenizerFile.Load(TokenizerTestData.TinyLlamaTokenizerJson);

    [Fact]
    public void EncodesTheReferenceSentenceToTheExpectedIds()
    {
        var expected = JsonNode.Parse(File.ReadAllText(Path.Combine(TokenizerTestData.TinyLlamaFolder, "expected.json")))!;
        var ids = expected["encode_examples"]!["the cat and the win"]!.AsArray().Select(n => n!.GetValue<int>()).ToArray();
        var tokenizer = Load();
        Assert.Equal(ids, tokenizer.Encode("the cat and the win", addSpecialTokens: true));
        Assert.Equal(ids[1..], tokenizer.Encode("the cat and the win"));
        Assert.Equal(expected["input_ids"]!.AsArray().Select(n => n!.GetValue<int>()), ids);
        Assert.Equal("the cat and the win", tokenizer.Decode(ids));
    }

    [Fact]
    public void KnowsItsSpecialTokensAndSize()
    {
        var tokenizer = Load();
        Assert.Equal(1, tokenizer.BosId);
        Assert.Equal(2, tokenizer.EosId);
        Assert.Null(tokenizer.PadId);
        Assert.Equal(323, tokenizer.VocabSize);
    }

    [Theory]
    [MemberData(nameof(TokenizerTestData.TrickyTexts), MemberType = typeof(TokenizerTestData))]
    public void DecodeOfEncodeGivesTheTextBack(string text)
    {
        var tokenizer = Load();
        // The "▁" that the normalizer prepends is the one space the decoder strips, so the text comes back exactly.
        Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text, addSpecialTokens: true)));
    }

    [Fact]
    public void UsesByteFallbackForCharactersOutsideTheVocabulary()
    {
        var tokenizer = Load();
        var ids = tokenizer.Encode("€");
        // "▁" then the three UTF-8 bytes of the euro sign as <0xE2> <0x82> <0xAC>.
        Assert.Equal([tokenizer.TokenToId("▁")!.Value, 3 + 0xE2, 3 + 0x82, 3 + 0xAC], ids);
        Assert.Equal("€", tokenizer.Decode(ids));
    }

    [Fact]
    public void SplitsOutSpecialTokensOnlyWhenSpelledExactly()
    {
        var tokenizer = Load();
        Assert.Equal([1, 1, 295, 2], tokenizer.Encode("<s>the</s>", addSpecialTokens: true));
        Assert.DoesNotContain(tokenizer.Encode("< s>the</ s><S>", addSpecialTokens: false), id => id is 1 or 2);
        Assert.DoesNotContain(tokenizer.Encode("<s>the</s>", addSpecialTokens: false, splitSpecialTokens: false), id => id is 1 or 2);
    }

    [Fact]
    public void UnsupportedTokenizerTypesAreNamedInTheError()
    {
        using var dir = new TempFolder();
        var path = dir.File("tokenizer.json");
        var json = JsonNode.Parse(File.ReadAllText(TokenizerTestData.TinyLlamaTokenizerJson))!.AsObject();

        json["model"]!["type"] = "Unigram";
        File.WriteAllText(path, json.ToJsonString());
        Assert.Contains("'Unigram'", Assert.Throws<UnsupportedModelException>(() => TokenizerFile.Load(path)).Message);

        json = JsonNode.Parse(File.ReadAllText(TokenizerTestData.TinyLlamaTokenizerJson))!.AsObject();
        json["normalizer"] = JsonNode.Parse("""{"type":"BertNormalizer","clean_text":true}""");
        File.WriteAllText(path, json.ToJsonString());
        Assert.Contains("normalizer 'BertNormalizer'", Assert.Throws<UnsupportedModelException>(() => TokenizerFile.Load(path)).Message);

        json = JsonNode.Parse(File.ReadAllText(TokenizerTestData.TinyLlamaTokenizerJson))!.AsObject();
        json["pre_tokenizer"] = JsonNode.Parse("""{"type":"Whitespace"}""");
        File.WriteAllText(path, json.ToJsonString());
        Assert.Contains("pre-tokenizer 'Whitespace'", Assert.Throws<UnsupportedModelException>(() => TokenizerFile.Load(path)).Message);

        json = JsonNode.Parse(File.ReadAllText(TokenizerTestData.TinyLlamaTokenizerJson))!.AsObject();
        json["model"]!["vocab"]!["e"] = 2_000_000_000;
        File.WriteAllText(path, json.ToJsonString());
        Assert.Contains("without large gaps", Assert.Throws<UnsupportedModelException>(() => TokenizerFile.Load(path)).Message);

        json = JsonNode.Parse(File.ReadAllText(TokenizerTestData.TinyLlamaTokenizerJson))!.AsObject();
        json["model"]!["vocab"]!["e"] = "not a number";
        File.WriteAllText(path, json.ToJsonString());
        Assert.Contains("could not be read as a tokenizer", Assert.Throws<UnsupportedModelException>(() => TokenizerFile.Load(path)).Message);

        json = JsonNode.Parse(File.ReadAllText(TokenizerTestData.TinyLlamaTokenizerJson))!.AsObject();
        json["model"]!["merges"]!.AsArray().Add("▁ zzz");
        File.WriteAllText(path, json.ToJsonString());
        Assert.Contains("not in its vocabulary", Assert.Throws<UnsupportedModelException>(() => TokenizerFile.Load(path)).Message);

        File.WriteAllText(path, "{ not json");
        Assert.Contains("not a valid tokenizer.json", Assert.Throws<UnsupportedModelException>(() => TokenizerFile.Load(path)).Message);

        Assert.Contains("No tokenizer file", Assert.Throws<UnsupportedModelException>(() => TokenizerFile.Load(dir.File("missing.json"))).Message);
    }

    [Fact]
    public void SaveWritesTheSameTokenizer()
    {
        var tokenizer = Load();
        using var dir = new TempFolder();
        var path = dir.File("tokenizer.json");
        tokenizer.Save(path);
        var again = TokenizerFile.Load(path);
        var text = TokenizerTestData.Corpus[..5000];
        Assert.Equal(tokenizer.Encode(text, true), again.Encode(text, true));
        using var hf = new Tokenizers.DotNet.Tokenizer(path);
        Assert.Equal(hf.Encode(text).Select(i => (int)i), again.Encode(text, true));
    }
}
