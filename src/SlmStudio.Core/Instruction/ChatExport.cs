using System.Text.Json.Nodes;
using SlmStudio.Core.Tokenization;

namespace SlmStudio.Core.Instruction;

/// <summary>What the exporter adds for a chat model: the task name, the end-of-turn ids for onnxruntime-genai and the model card's "how to use".</summary>
public static class ChatExport
{
    /// <summary>True when a run's run.json belongs to an instruction-tuning phase (its options name the tokenized conversations).</summary>
    public static bool IsChatRun(JsonObject? runSettings) =>
        runSettings?["options"]?["instructionData"] is JsonValue v && v.TryGetValue<string>(out var s) && s.Length > 0;

    /// <summary>The ids that end an answer of the model in <paramref name="modelDir"/> (empty when it has no chat template).</summary>
    public static IReadOnlyList<int> EndOfTurnIds(string modelDir, ITokenizer tokenizer) =>
        InstructionTemplate.Load(modelDir, tokenizer)?.EndOfTurnIds(tokenizer) ?? [];

    /// <summary>The model card's section on chatting with the exported model.</summary>
    public static string CardSection(string artifactName, IReadOnlyList<int> endOfTurnIds) => $$"""

        ## Chat with this model

        This model answers questions (it was instruction-tuned by SLM Studio). Its chat template is in
        `tokenizer_config.json` (`chat_template`), so Hugging Face's `tokenizer.apply_chat_template(messages,
        add_generation_prompt=True)` and onnxruntime-genai's `tokenizer.apply_chat_template` write the prompt as it was
        trained. An answer ends at the end-of-turn token{{(endOfTurnIds.Count == 1 ? "" : "s")}} {{string.Join(", ", endOfTurnIds)}}
        (`eos_token_id` in `genai_config.json`); these tokens are never part of the answer's text.

        In a terminal:

        ```
        slm chat {{artifactName}}                       # a conversation, answers streamed
        slm chat {{artifactName}} --prompt "Your question"   # one answer, then exit
        slm eval {{artifactName}} --data test.csv --question-column question --answer-column answer
        ```

        From C#, with SLM Studio's engine:

        ```csharp
        using var artifact = OnnxArtifact.Open("{{artifactName}}");
        var chat = new ChatSession(artifact);
        await foreach (var piece in chat.SendAsync("How many days of leave do I get?")) Console.Write(piece);
        ```

        """;
}
