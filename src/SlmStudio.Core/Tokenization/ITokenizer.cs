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

    /// <summary>
    /// As <see cref="Encode(string, bool)"/>; with <paramref name="splitSpecialTokens"/> = false, text that merely spells a
    /// special token (such as "&lt;s&gt;" inside a document) is encoded as ordinary text, never as the special token
    /// (Hugging Face's <c>split_special_tokens=True</c>). Use it for untrusted text such as training documents.
    /// </summary>
    int[] Encode(string text, bool addSpecialTokens, bool splitSpecialTokens);

    /// <summary>The token string of <paramref name="id"/> as in tokenizer.json, or null when the id is not in the vocabulary.</summary>
    string? IdToToken(int id);

    /// <summary>The text of <paramref name="ids"/>; special tokens are left out when <paramref name="skipSpecialTokens"/>.</summary>
    string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = true);

    /// <summary>Writes this tokenizer as a Hugging Face tokenizer.json.</summary>
    void Save(string tokenizerJsonPath);
}
