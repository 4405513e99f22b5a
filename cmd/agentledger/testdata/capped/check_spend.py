import requests

API_KEY = "lim_your_api_key"
BASE   = "https://capped.ai"

def check_spend(agent_id, amount_usd, reason=""):
    """Check if a purchase is allowed under the agent's spending policy."""
    res = requests.post(
        f"{BASE}/api/v1/actions/check",
        headers={"Authorization": f"Bearer {API_KEY}"},
        json={
            "agent_id":    agent_id,
            "action_type": "purchase",
            "amount_usd":  amount_usd,
            "reason":      reason,
        },
    )
    return res.json()

result = check_spend(
    "agent_abc123",
    amount_usd=120,
    reason="EC2 instance for data pipeline",
)

if result["status"] == "approved":
    # proceed with payment / API call
    pass
elif result["status"] == "requires_approval":
    print("Queued for human review:", result["decision_id"])
elif result["status"] == "reduced":
    print("Capped at:", result["allowed_amount_usd"])
else:
    print("Blocked:", result["reason"])
