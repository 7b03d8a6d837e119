namespace SlmStudio.Core.Tokenization;

/// <summary>
/// The one tokenizer abstraction of the engine: our own trained byte-level BPE and the Hugging Face tokenizer.json
/// files that real base models ship, behind the same calls.
/// </summary>
public interface ITokenizer
{
    int VocabSize { get; }
    int? BosId { get; }
    int? EosId { get; }
    int? PadId { get; }

    /// <summary>Token ids of <paramref name="text"/>; with <paramref name="addSpecialTokens"/> the beginning-of-text token is prepended where the tokenizer's post-processor does so.</summary>
    int[] Encode(string text, bool addSpecialTokens = false);

    /// <summary>The text of <paramref name="ids"/>; special tokens are left out when <paramref name="skipSpecialTokens"/>.</summary>
    string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = true);

    /// <summary>Writes this tokenizer as a Hugging Face tokenizer.json.</summary>
    void Save(string tokenizerJsonPath);
}
