using System.Text;
using SlmStudio.Core.Tokenization;

namespace SlmStudio.Core.Tests.Tokenization;

public class TokenStreamDecoderTests
{
    private static List<string> Stream(ITokenizer tokenizer, IEnumerable<int> ids, bool skipSpecialTokens = true)
    {
        var decoder = new TokenStreamDecoder(tokenizer, skipSpecialTokens);
        var pieces = ids.Select(decoder.Push).ToList();
        pieces.Add(decoder.Flush());
        return pieces;
    }

    [Theory]
    [MemberData(nameof(TokenizerTestData.TrickyTexts), MemberType = typeof(TokenizerTestData))]
    public void PiecesJoinToTheDecodedTextAndAreNeverBrokenCharacters(string text)
    {
        foreach (var tokenizer in new ITokenizer[] { TokenizerTestData.Trained, TokenizerFile.Load(TokenizerTestData.TinyLlamaTokenizerJson) })
        {
            var ids = tokenizer.Encode(text, addSpecialTokens: true);
            var pieces = Stream(tokenizer, ids);
            Assert.Equal(tokenizer.Decode(ids), string.Concat(pieces));
            Assert.All(pieces, p => Assert.DoesNotContain('\uFFFD', p));
            Assert.All(pieces, p => Assert.False(p.Length > 0 && char.IsLowSurrogate(p[0]), "a piece starts inside a surrogate pair"));
        }
    }

    [Fact]
    public void EmojiSplitOverByteTokensAppearsWhole()
    {
        var tokenizer = new BpeTrainer(BpeTrainer.MinimumVocabSize).Train("x");
        var ids = tokenizer.Encode("a😀b");
        Assert.Equal(6, ids.Length); // one token per UTF-8 byte
        var pieces = Stream(tokenizer, ids);
        Assert.Equal(["a", "", "", "", "😀", "b", ""], pieces);
    }

    [Fact]
    public void SentencePieceLeadingSpaceIsStrippedOnlyAtTheStart()
    {
        var tokenizer = TokenizerFile.Load(TokenizerTestData.TinyLlamaTokenizerJson);
        var ids = tokenizer.Encode("the cat and the win", addSpecialTokens: true);
        var pieces = Stream(tokenizer, ids);
        Assert.Equal(["", "the", " c", "at", " and", " the", " w", "in", ""], pieces);
        Assert.Equal("the cat and the win", string.Concat(pieces));
    }

    [Fact]
    public void ByteFallbackPiecesWaitForTheWholeCharacter()
    {
        var tokenizer = TokenizerFile.Load(TokenizerTestData.TinyLlamaTokenizerJson);
        var ids = tokenizer.Encode("a €");
        var pieces = Stream(tokenizer, ids);
        // "▁a", "▁", then the three bytes of the euro sign as <0xE2> <0x82> <0xAC>.
        Assert.Equal(["a", " ", "", "", "€", ""], pieces);
    }

    [Fact]
    public void InvalidBytesAreShownAfterAWhileInsteadOfHeldForever()
    {
        var tokenizer = new BpeTrainer(BpeTrainer.MinimumVocabSize).Train("x");
        // 0xFF never starts a UTF-8 character: ten of them are ten replacement characters.
        var ids = Enumerable.Repeat(3 + 0xFF, 10).ToArray();
        var pieces = Stream(tokenizer, ids);
        Assert.Equal(new string('\uFFFD', 10), string.Concat(pieces));
        Assert.Equal(Encoding.UTF8.GetString(Enumerable.Repeat((byte)0xFF, 10).ToArray()), tokenizer.Decode(ids));
    }

    [Fact]
    public void AfterThePromptTheFirstPieceKeepsItsSpaceAndCharactersStillWait()
    {
        // How GenerationRun uses it: the prompt's last ids are context, only the generated ids are pushed.
        var tokenizer = TokenizerFile.Load(TokenizerTestData.TinyLlamaTokenizerJson);
        var ids = tokenizer.Encode("the cat and the win", addSpecialTokens: true);
        var decoder = new TokenStreamDecoder(tokenizer);
        decoder.StartAfter(ids[..4]);
        List<string> pieces = [.. ids[4..].Select(decoder.Push)];
        pieces.Add(decoder.Flush());
        Assert.Equal([" and", " the", " w", "in", ""], pieces);

        var euro = tokenizer.Encode("a €");
        decoder.StartAfter(euro[..1]);
        List<string> euroPieces = [.. euro[1..].Select(decoder.Push)];
        euroPieces.Add(decoder.Flush());
        Assert.Equal([" ", "", "", "€", ""], euroPieces);
    }
}
