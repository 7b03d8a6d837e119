using System.Text.Json.Nodes;
using SlmStudio.Core.Tokenization;

namespace SlmStudio.Core.Instruction;

/// <summary>
/// The chat tokens our own tokenizers get when a model is trained to answer questions: ChatML's turn markers, added as
/// special tokens after the vocabulary that <see cref="BpeTrainer"/> learned. Being special, they are never produced
/// from a document's text and never shown in decoded answers, and &lt;|im_end|&gt; gives generation a token to stop at.
/// </summary>
public static class ChatVocabulary
{
    public const string TurnStart = "<|im_start|>";
    public const string TurnEnd = "<|im_end|>";
    public static IReadOnlyList<string> Tokens { get; } = [TurnStart, TurnEnd];

    /// <summary>A BPE tokenizer of <paramref name="vocabSize"/> tokens in all, the chat tokens included (trained on <paramref name="texts"/>).</summary>
    public static HfTokenizer Train(int vocabSize, IEnumerable<string> texts, CancellationToken ct) =>
        AddTo(new BpeTrainer(vocabSize - Tokens.Count).Train(texts, ct));

    /// <summary><paramref name="tokenizer"/> with the chat tokens appended as special tokens (ids after its last one).</summary>
    public static HfTokenizer AddTo(HfTokenizer tokenizer)
    {
        if (IsIn(tokenizer)) return tokenizer;
        var json = JsonNode.Parse(tokenizer.ToJson())!.AsObject();
        var added = json["added_tokens"] as JsonArray ?? [];
        var vocab = json["model"]!["vocab"]!.AsObject();
        var next = tokenizer.VocabSize;
        foreach (var token in Tokens)
        {
            added.Add(new JsonObject
            {
                ["id"] = next, ["content"] = token, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
                ["normalized"] = false, ["special"] = true,
            });
            vocab[token] = next++;
        }
        json["added_tokens"] = added;
        return TokenizerFile.Parse(json);
    }

    /// <summary>True when <paramref name="tokenizer"/> has both chat tokens as single tokens.</summary>
    public static bool IsIn(ITokenizer tokenizer) =>
        Tokens.All(t => tokenizer.Encode(t, addSpecialTokens: false, splitSpecialTokens: true) is [var id] && tokenizer.IdToToken(id) == t);
}
