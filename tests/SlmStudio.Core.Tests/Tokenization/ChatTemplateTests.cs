using System.Text.Json.Nodes;
using SlmStudio.Core.Models;
using SlmStudio.Core.Tokenization;

namespace SlmStudio.Core.Tests.Tokenization;

/// <summary>Chat templates as the model families publish them in tokenizer_config.json, rendered as their Jinja would.</summary>
public sealed class ChatTemplateTests
{
    // The templates below are the published ones (Qwen2-0.5B-Instruct, SmolLM2-135M-Instruct, Llama-3-8B-Instruct,
    // the Llama-3.2 date header, Mistral-7B-Instruct-v0.2, Phi-3-mini-4k-instruct), as they read once JSON-decoded.
    private const string Qwen2 = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
    private const string SmolLm2 = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
    private const string Llama3 = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";
    private const string Llama32 = "{{- bos_token }}\n{%- if not date_string is defined %}\n    {%- if strftime_now is defined %}\n        {%- set date_string = strftime_now(\"%d %b %Y\") %}\n    {%- else %}\n        {%- set date_string = \"26 Jul 2024\" %}\n    {%- endif %}\n{%- endif %}\n{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}\n{{- \"Cutting Knowledge Date: December 2023\\n\" }}\n{{- \"Today Date: \" + date_string + \"\\n\\n\" }}\n{{- system_message }}\n{{- \"<|eot_id|>\" }}\n{%- for message in messages %}{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}{%- endfor %}\n{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}\n";
    private const string Mistral = "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}";
    private const string Phi3 = "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\\n' + message['content'] + '<|end|>\\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\\n' + message['content'] + '<|end|>\\n'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>\\n' + message['content'] + '<|end|>\\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% else %}{{ eos_token }}{% endif %}";
    private const string Gemma = "{{ bos_token }}{% for message in messages %}{{ '<start_of_turn>' + message['role'] + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}";

    private static readonly ChatMessage[] Conversation =
    [
        new("user", "Where is my order?"),
        new("assistant", "It left the warehouse on Monday."),
        new("user", "When will it arrive?"),
    ];

    private static ChatMessage[] WithSystem => [new("system", "You answer for Contoso support."), .. Conversation];

    [Fact]
    public void ChatMlAddsTheTemplatesDefaultSystemPromptOnlyWhenThereIsNone()
    {
        var qwen = ChatTemplate.Parse(Qwen2, null, "<|endoftext|>");
        Assert.Equal(ChatFormat.ChatMl, qwen.Format);
        Assert.Equal("You are a helpful assistant.", qwen.DefaultSystemPrompt);
        Assert.Equal(
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n" +
            "<|im_start|>user\nWhere is my order?<|im_end|>\n<|im_start|>assistant\nIt left the warehouse on Monday.<|im_end|>\n" +
            "<|im_start|>user\nWhen will it arrive?<|im_end|>\n<|im_start|>assistant\n", qwen.Render(Conversation));
        Assert.StartsWith("<|im_start|>system\nYou answer for Contoso support.<|im_end|>\n<|im_start|>user\n", qwen.Render(WithSystem));
        Assert.EndsWith("When will it arrive?<|im_end|>\n", qwen.Render(Conversation, addGenerationPrompt: false));
        Assert.Equal("You are a helpful AI assistant named SmolLM, trained by Hugging Face", ChatTemplate.Parse(SmolLm2, null, null).DefaultSystemPrompt);
    }

    [Fact]
    public void Llama3RendersHeadersTrimmedContentAndTheBeginningOfText()
    {
        var llama = ChatTemplate.Parse(Llama3, "<|begin_of_text|>", "<|eot_id|>");
        Assert.Equal(ChatFormat.Llama3, llama.Format);
        Assert.Equal(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou answer for Contoso support.<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nWhere is my order?<|eot_id|>" +
            "<|start_header_id|>assistant<|end_header_id|>\n\nIt left the warehouse on Monday.<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nWhen will it arrive?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
            llama.Render([WithSystem[0] with { Content = "  You answer for Contoso support.\n" }, .. Conversation]));
    }

    [Fact]
    public void Llama32AlwaysOpensWithTheDatedSystemTurn()
    {
        var llama = ChatTemplate.Parse(Llama32, "<|begin_of_text|>", "<|eot_id|>");
        Assert.Equal(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
            llama.Render([new("user", "Hi")]));
        Assert.StartsWith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nBe brief.<|eot_id|><|start_header_id|>user",
            llama.Render([new("system", "Be brief."), new("user", "Hi")]));
    }

    [Fact]
    public void MistralAlternatesInstBlocksAndRefusesOtherOrders()
    {
        var mistral = ChatTemplate.Parse(Mistral, "<s>", "</s>");
        Assert.Equal(ChatFormat.MistralInst, mistral.Format);
        Assert.Equal("<s>[INST] Where is my order? [/INST]It left the warehouse on Monday.</s>[INST] When will it arrive? [/INST]", mistral.Render(Conversation));
        Assert.StartsWith("<s>[INST] You answer for Contoso support.\n\nWhere is my order? [/INST]", mistral.Render(WithSystem));
        var e = Assert.Throws<EngineException>(() => mistral.Render([new("assistant", "Hello"), new("user", "Hi")]));
        Assert.Contains("alternate user / assistant", e.Message);
    }

    [Fact]
    public void Phi3MarksEachRoleAndEndsWithTheAssistantOrEndOfText()
    {
        var phi = ChatTemplate.Parse(Phi3, "<s>", "<|endoftext|>");
        Assert.Equal(ChatFormat.Phi3, phi.Format);
        Assert.Equal(
            "<|system|>\nYou answer for Contoso support.<|end|>\n<|user|>\nWhere is my order?<|end|>\n<|assistant|>\nIt left the warehouse on Monday.<|end|>\n" +
            "<|user|>\nWhen will it arrive?<|end|>\n<|assistant|>\n", phi.Render(WithSystem));
        Assert.EndsWith("<|end|>\n<|endoftext|>", phi.Render(Conversation, addGenerationPrompt: false));
        Assert.Contains("role 'tool'", Assert.Throws<EngineException>(() => phi.Render([new("tool", "{}")])).Message);
    }

    [Fact]
    public void OtherTemplatesAreRefusedByName()
    {
        var e = Assert.Throws<UnsupportedModelException>(() => ChatTemplate.Parse(Gemma, "<bos>", "<eos>"));
        Assert.Contains("Gemma", e.Message);
        Assert.Contains("ChatML", e.Message);
        Assert.Contains("Llama 2", Assert.Throws<UnsupportedModelException>(() => ChatTemplate.Parse("[INST] <<SYS>>\\n{{ system }}<</SYS>> {{ m }} [/INST]", "<s>", "</s>")).Message);
        Assert.Contains("does not recognise", Assert.Throws<UnsupportedModelException>(() => ChatTemplate.Parse("{{ messages[0]['content'] }}", null, null)).Message);
    }

    [Fact]
    public void LoadsTheTemplateFromTokenizerConfigAndNoneWhenAbsent()
    {
        using var folder = new TempFolder();
        Assert.Null(ChatTemplate.Load(folder.Path));
        File.Copy(Path.Combine(TestPaths.Fixtures, "tiny-phi2-hf", "tokenizer_config.json"), folder.File("tokenizer_config.json"));
        Assert.Null(ChatTemplate.Load(folder.Path)); // the fixtures, like Phi-2, ship no chat template

        var config = new JsonObject { ["bos_token"] = new JsonObject { ["content"] = "<|begin_of_text|>" }, ["eos_token"] = "<|eot_id|>", ["chat_template"] = Llama3 };
        File.WriteAllText(folder.File("tokenizer_config.json"), config.ToJsonString());
        var llama = Assert.IsType<ChatTemplate>(ChatTemplate.Load(folder.Path));
        Assert.StartsWith("<|begin_of_text|><|start_header_id|>user", llama.Render([new("user", "x")]));

        config["chat_template"] = new JsonArray(new JsonObject { ["name"] = "tool_use", ["template"] = Gemma }, new JsonObject { ["name"] = "default", ["template"] = Qwen2 });
        File.WriteAllText(folder.File("tokenizer_config.json"), config.ToJsonString());
        Assert.Equal(ChatFormat.ChatMl, ChatTemplate.Load(folder.Path)!.Format);
    }
}
